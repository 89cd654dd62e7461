/** @module Per-isolate counters and a latency histogram, rendered as Prometheus text for `GET /metrics`. */

const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000];

type Labels = Record<string, string>;

// Every decision increments a few series whose label sets repeat: format each set once. Bounded like the
// series themselves (policies × outcomes × sources).
const formatted = new Map<string, string>();

function labelText(labels: Labels): string {
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

/** Counters and gauges keyed by name and labels; one instance per isolate (Workers keep globals between requests). */
export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly gauges = new Map<string, Map<string, number>>();
  private readonly latency = { buckets: LATENCY_BUCKETS_MS.map(() => 0), count: 0, sumMs: 0 };

  /**
   * Adds `by` to the counter `name` with `labels`.
   *
   * @example
   * metrics.inc("erl_decisions_total", { policy: "api", outcome: "allowed" });
   */
  inc(name: string, labels: Labels = {}, by = 1): void {
    let series = this.counters.get(name);
    if (!series) {
      series = new Map();
      this.counters.set(name, series);
    }
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  /**
   * Sets the gauge `name` with `labels` to `value`.
   *
   * @example
   * metrics.set("erl_breaker_open", {}, 1);
   */
  set(name: string, labels: Labels, value: number): void {
    let series = this.gauges.get(name);
    if (!series) {
      series = new Map();
      this.gauges.set(name, series);
    }
    series.set(labelText(labels), value);
  }

  /** Reads one counter or gauge (0 when never set); for tests and the demo. */
  get(name: string, labels: Labels = {}): number {
    const key = labelText(labels);
    return this.counters.get(name)?.get(key) ?? this.gauges.get(name)?.get(key) ?? 0;
  }

  /** Records how long one decision waited for the store (answered or given up). */
  observeLatency(ms: number): void {
    LATENCY_BUCKETS_MS.forEach((le, i) => {
      if (ms <= le) this.latency.buckets[i] = (this.latency.buckets[i] ?? 0) + 1;
    });
    this.latency.count++;
    this.latency.sumMs += ms;
  }

  /**
   * Prometheus text exposition format (0.0.4).
   *
   * @example
   * new Response(metrics.render(), { headers: { "Content-Type": "text/plain; version=0.0.4" } });
   */
  render(extra: Labels = {}): string {
    const lines: string[] = [];
    const families = [
      ...[...this.counters].map(([name, series]) => ({ name, series, type: "counter" })),
      ...[...this.gauges].map(([name, series]) => ({ name, series, type: "gauge" })),
    ].sort((a, b) => a.name.localeCompare(b.name));
    for (const { name, series, type } of families) {
      lines.push(`# TYPE ${name} ${type}`);
      for (const [labels, value] of series) lines.push(`${name}${withExtra(labels, extra)} ${value}`);
    }
    const h = "erl_decision_latency_ms";
    lines.push(
      `# HELP ${h} Time a decision waited for the store (answered or given up), per decision that asked it.`,
      `# TYPE ${h} histogram`,
    );
    LATENCY_BUCKETS_MS.forEach((le, i) => {
      lines.push(`${h}_bucket${labelText({ ...extra, le: String(le) })} ${this.latency.buckets[i] ?? 0}`);
    });
    lines.push(`${h}_bucket${labelText({ ...extra, le: "+Inf" })} ${this.latency.count}`);
    lines.push(
      `${h}_sum${labelText(extra)} ${this.latency.sumMs}`,
      `${h}_count${labelText(extra)} ${this.latency.count}`,
    );
    return `${lines.join("\n")}\n`;
  }
}

function withExtra(labels: string, extra: Labels): string {
  if (Object.keys(extra).length === 0) return labels;
  const inner = labels.slice(1, -1);
  const added = labelText(extra).slice(1, -1);
  return `{${[added, inner].filter(Boolean).join(",")}}`;
}
