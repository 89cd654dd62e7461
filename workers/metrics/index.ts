/** @module Per-isolate counters and a latency histogram; `renderMetrics` turns them into Prometheus text. */

import { LATENCY_BUCKETS_MS, type Labels, labelText, type MetricsState } from "./render";

export { type Labels, renderMetrics } from "./render";
/**
 * Counters and gauges keyed by name and labels; one instance per isolate (Workers keep globals between requests).
 * Rendering lives in {@link renderMetrics}, outside the class, so an app that never serves `/metrics` does
 * not bundle it.
 */
export class Metrics implements MetricsState {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #gauges = new Map<string, Map<string, number>>();
  readonly #latency = { buckets: LATENCY_BUCKETS_MS.map(() => 0), count: 0, sumMs: 0 };

  /** Counters by name, then by formatted label set: read-only outside (write through {@link inc}). */
  get counters(): MetricsState["counters"] {
    return this.#counters;
  }

  /** Gauges by name, then by formatted label set: read-only outside (write through {@link set}). */
  get gauges(): MetricsState["gauges"] {
    return this.#gauges;
  }

  /** The decision-latency histogram: read-only outside (write through {@link observeLatency}). */
  get latency(): MetricsState["latency"] {
    return this.#latency;
  }

  /**
   * Adds `by` to the counter `name` with `labels`.
   *
   * @example
   * metrics.inc("erl_decisions_total", { policy: "api", outcome: "allowed" });
   */
  inc(name: string, labels: Labels = {}, by = 1): void {
    let series = this.#counters.get(name);
    if (!series) {
      series = new Map();
      this.#counters.set(name, series);
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
    let series = this.#gauges.get(name);
    if (!series) {
      series = new Map();
      this.#gauges.set(name, series);
    }
    series.set(labelText(labels), value);
  }

  /** Reads one counter or gauge (0 when never set); for tests and the demo. */
  get(name: string, labels: Labels = {}): number {
    const key = labelText(labels);
    return this.#counters.get(name)?.get(key) ?? this.#gauges.get(name)?.get(key) ?? 0;
  }

  /** Records how long one decision waited for the store (answered or given up). */
  observeLatency(ms: number): void {
    const { buckets } = this.#latency;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++)
      if (ms <= (LATENCY_BUCKETS_MS[i] as number)) buckets[i] = (buckets[i] ?? 0) + 1;
    this.#latency.count++;
    this.#latency.sumMs += ms;
  }
}
