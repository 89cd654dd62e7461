/** @module Label formatting and the Prometheus text exposition of the isolate's metrics (read on `GET /metrics` only). */

/** Upper bounds (ms) of the decision-latency histogram's buckets. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000];

export type Labels = Record<string, string>;

/** What the renderer reads: series by name, then by formatted label set. */
export interface MetricsState {
  counters: ReadonlyMap<string, ReadonlyMap<string, number>>;
  gauges: ReadonlyMap<string, ReadonlyMap<string, number>>;
  latency: { readonly buckets: readonly number[]; readonly count: number; readonly sumMs: number };
}

// Every decision increments a few series whose label sets repeat: format each set once. Bounded like the
// series themselves (policies × outcomes × sources).
const formatted = new Map<string, string>();

/**
 * `{name="value",…}` for a label set (escaped; `""` when empty), formatted once per distinct set.
 *
 * @example
 * labelText({ policy: "api" }); // '{policy="api"}'
 */
export function labelText(labels: Labels): string {
  let key = "";
  for (const name in labels) key += `${name}\u0000${labels[name]}\u0001`;
  let text = formatted.get(key);
  if (text === undefined) {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, "_")}"`);
    text = parts.length ? `{${parts.join(",")}}` : "";
    formatted.set(key, text);
  }
  return text;
}

/**
 * Prometheus text exposition format (0.0.4), with `extra` labels (the instance) on every series.
 *
 * @example
 * new Response(renderMetrics(limiter.metrics, { instance: "edge-1" }), {
 *   headers: { "Content-Type": "text/plain; version=0.0.4" },
 * });
 */
export function renderMetrics(state: MetricsState, extra: Labels = {}): string {
  const lines: string[] = [];
  const families = [
    ...[...state.counters].map(([name, series]) => ({ name, series, type: "counter" })),
    ...[...state.gauges].map(([name, series]) => ({ name, series, type: "gauge" })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  for (const { name, series, type } of families) {
    lines.push(`# TYPE ${name} ${type}`);
    for (const [labels, value] of series) lines.push(`${name}${withExtra(labels, extra)} ${value}`);
  }
  const h = "erl_decision_latency_ms";
  const { latency } = state;
  lines.push(
    `# HELP ${h} Time a decision waited for the store (answered or given up), per decision that asked it.`,
    `# TYPE ${h} histogram`,
  );
  LATENCY_BUCKETS_MS.forEach((le, i) => {
    lines.push(`${h}_bucket${labelText({ ...extra, le: String(le) })} ${latency.buckets[i] ?? 0}`);
  });
  lines.push(`${h}_bucket${labelText({ ...extra, le: "+Inf" })} ${latency.count}`);
  lines.push(
    `${h}_sum${labelText(extra)} ${latency.sumMs}`,
    `${h}_count${labelText(extra)} ${latency.count}`,
  );
  return `${lines.join("\n")}\n`;
}

function withExtra(labels: string, extra: Labels): string {
  if (Object.keys(extra).length === 0) return labels;
  const inner = labels.slice(1, -1);
  const added = labelText(extra).slice(1, -1);
  return `{${[added, inner].filter(Boolean).join(",")}}`;
}
