/** @module A small hand-written SVG line plot: admitted requests per key over time against the envelope C + r·t. */
import type { AccuracyResult } from "./scenarios/accuracy";

const W = 760;
const H = 440;
const M = { left: 64, right: 24, top: 48, bottom: 56 };

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Round-number tick values from 0 to `max` (about `count` of them). */
function ticks(max: number, count: number): number[] {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}

function stepPath(series: [number, number][], x: (ms: number) => number, y: (n: number) => number): string {
  let d = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
  let last = 0;
  for (const [ms, n] of series) {
    d += ` H${x(ms).toFixed(1)} V${y(n).toFixed(1)}`;
    last = n;
  }
  return `${d} H${x(Number.POSITIVE_INFINITY).toFixed(1)} V${y(last).toFixed(1)}`;
}

/**
 * Renders the accuracy plot: one step line per key (a sample of them, the worst key highlighted) and the
 * ideal envelope C + r·t as a dashed line.
 *
 * @example
 * await writeFile("docs/benchmarks-accuracy.svg", accuracySvg(results.accuracy));
 */
export function accuracySvg(result: AccuracyResult, maxKeys = 24): string {
  const seconds = result.seconds;
  const maxY = Math.ceil(result.capacity + result.refillPerSec * seconds + 2);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (ms: number) => M.left + (Math.min(ms, seconds * 1000) / (seconds * 1000)) * plotW;
  const y = (n: number) => M.top + plotH - (n / maxY) * plotH;
  const worst = [...result.keys].sort((a, b) => b.overBy - a.overBy || b.underBy - a.underBy)[0];
  const title = esc(
    `Admitted per key vs C + r·t (C=${result.capacity}, r=${result.refillPerSec}/s, ${result.clients} clients, ${result.instancesSeen.length} instances)`,
  );
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
  ];
  for (const t of ticks(seconds, 10)) {
    const px = x(t * 1000).toFixed(1);
    parts.push(`<line x1="${px}" y1="${M.top}" x2="${px}" y2="${M.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${px}" y="${M.top + plotH + 18}" text-anchor="middle">${t}</text>`);
  }
  for (const v of ticks(maxY, 8)) {
    const py = y(v).toFixed(1);
    parts.push(`<line x1="${M.left}" y1="${py}" x2="${M.left + plotW}" y2="${py}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${v}</text>`);
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
    `<text x="${M.left + plotW / 2}" y="${H - 14}" text-anchor="middle">seconds since the key's first request</text>`,
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">requests admitted</text>`,
  );
  for (const key of result.keys.slice(0, maxKeys)) {
    parts.push(`<path d="${stepPath(key.series, x, y)}" fill="none" stroke="#7aa6d8" stroke-opacity="0.5"/>`);
  }
  if (worst) {
    parts.push(`<path d="${stepPath(worst.series, x, y)}" fill="none" stroke="#0b3d91" stroke-width="2"/>`);
  }
  const envelope = `M${x(0)},${y(result.capacity)} L${x(seconds * 1000)},${y(result.capacity + result.refillPerSec * seconds)}`;
  parts.push(`<path d="${envelope}" fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>`);
  const legendY = M.top + 16;
  parts.push(
    `<line x1="${M.left + 12}" y1="${legendY}" x2="${M.left + 40}" y2="${legendY}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${M.left + 46}" y="${legendY + 4}">ideal envelope C + r·t</text>`,
    `<line x1="${M.left + 12}" y1="${legendY + 18}" x2="${M.left + 40}" y2="${legendY + 18}" stroke="#0b3d91" stroke-width="2"/>`,
    `<text x="${M.left + 46}" y="${legendY + 22}">${esc(`worst key (over ${worst?.overBy ?? 0}, under ${worst?.underBy ?? 0})`)}</text>`,
    `<line x1="${M.left + 12}" y1="${legendY + 36}" x2="${M.left + 40}" y2="${legendY + 36}" stroke="#7aa6d8"/>`,
    `<text x="${M.left + 46}" y="${legendY + 40}">${Math.min(maxKeys, result.keys.length)} keys (sample)</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
