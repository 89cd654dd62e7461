/** @module Side-by-side wrk measurements in alternating rounds (A, B, A, B, …), reported as medians. */
import { type BenchContext, median } from "./support";
import { runWrk, type WrkResult } from "./wrk";

/** One side of a comparison: what wrk hits and how. */
export interface Side {
  name: string;
  url: string;
  script?: string;
  env?: Record<string, string>;
  /** Decisions per request (10 for a 10-command pipeline); default 1. */
  perRequest?: number;
}

/** Medians over the rounds of one side. Throughput counts only 2xx answers (× perRequest). */
export interface SideFigures {
  okPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers and socket errors over all rounds (timeouts, fail-closed 503s). */
  failures: number;
  rounds: WrkResult[];
}

/**
 * Measures every side `ctx.rounds` times, interleaved, after a short warm-up of each, so that background
 * load on a shared machine hits all sides alike. Returns the median figures per side name.
 *
 * @example
 * const figures = await alternate(ctx, "overhead", [
 *   { name: "on", url: `${on.url}/bench/x`, script: "header-keys.lua" },
 *   { name: "off", url: `${off.url}/bench/x`, script: "header-keys.lua" },
 * ]);
 */
export async function alternate(
  ctx: BenchContext,
  label: string,
  sides: readonly Side[],
): Promise<Record<string, SideFigures>> {
  const runs = new Map<string, WrkResult[]>(sides.map((s) => [s.name, []]));
  const wrkFor = (side: Side, seconds: number) =>
    runWrk({
      url: side.url,
      connections: ctx.connections,
      seconds,
      ...(side.script ? { script: side.script } : {}),
      ...(side.env ? { env: side.env } : {}),
    });
  // A quick run skips the warm-up: its figures are indicative only, and CI wants it short.
  if (!ctx.quick) for (const side of sides) await wrkFor(side, 1);
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const side of sides) {
      const result = await wrkFor(side, ctx.seconds);
      runs.get(side.name)?.push(result);
      const per = side.perRequest ?? 1;
      ctx.log(
        `${label} round ${round}/${ctx.rounds} ${side.name}: ${Math.round(result.okPerSec * per)}/s ` +
          `p50 ${result.latencyMs.p50.toFixed(2)} ms p99 ${result.latencyMs.p99.toFixed(2)} ms` +
          (result.non2xx + result.socketErrors > 0
            ? ` (${result.non2xx} non-2xx, ${result.socketErrors} socket errors)`
            : ""),
      );
    }
  }
  const figures: Record<string, SideFigures> = {};
  for (const side of sides) {
    const rounds = runs.get(side.name) ?? [];
    figures[side.name] = {
      okPerSec: Math.round(median(rounds.map((r) => r.okPerSec)) * (side.perRequest ?? 1)),
      p50Ms: median(rounds.map((r) => r.latencyMs.p50)),
      p99Ms: median(rounds.map((r) => r.latencyMs.p99)),
      failures: rounds.reduce((sum, r) => sum + r.non2xx + r.socketErrors, 0),
      rounds,
    };
  }
  return figures;
}

/**
 * Throws when a side failed on more than `maxShare` of its requests: its figures would not mean anything.
 *
 * @example
 * assertMostlyOk("overhead", figures, 0.01);
 */
export function assertMostlyOk(label: string, figures: Record<string, SideFigures>, maxShare = 0.05): void {
  for (const [name, f] of Object.entries(figures)) {
    const total = f.rounds.reduce((sum, r) => sum + r.requests, 0);
    if (total === 0 || f.failures / total > maxShare) {
      throw new Error(
        `${label}: side "${name}" failed ${f.failures} of ${total} requests (non-2xx or socket errors)`,
      );
    }
  }
}
