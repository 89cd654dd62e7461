/** @module A bounded, per-isolate memory of denied keys, so a client hammering past its limit costs no Redis call. */
import type { BucketResult } from "../../lua";

interface Entry {
  untilMs: number;
  cost: number;
  result: BucketResult;
  cachedAtMs: number;
}

/** Denials remembered until their retry time; the oldest entry goes first when full. */
export class DeniedCache {
  // A Map iterates in insertion order, which makes it a cheap FIFO for eviction.
  readonly #entries = new Map<string, Entry>();

  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /**
   * Remembers a `limit_exceeded` denial until it could succeed.
   *
   * @example
   * cache.remember("api|ip:203.0.113.7", 1, result, Date.now());
   */
  remember(key: string, cost: number, result: BucketResult, nowMs: number): void {
    if (result.allowed || result.retryAfterMs === null || result.retryAfterMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { untilMs: nowMs + result.retryAfterMs, cost, result, cachedAtMs: nowMs });
  }

  /**
   * The remembered denial, aged to `nowMs`, when a request of `cost` would surely still be denied;
   * a smaller cost than the one denied might fit, so it goes to Redis.
   *
   * @example
   * const cached = cache.lookup("api|ip:203.0.113.7", 1, Date.now());
   */
  lookup(key: string, cost: number, nowMs: number): BucketResult | null {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    if (nowMs >= entry.untilMs) {
      this.#entries.delete(key);
      return null;
    }
    if (cost < entry.cost) return null;
    const elapsed = nowMs - entry.cachedAtMs;
    const age = (ms: number) => Math.max(0, ms - elapsed);
    const result = entry.result;
    return {
      ...result,
      nowMs: result.nowMs + elapsed,
      retryAfterMs: entry.untilMs - nowMs,
      limits: result.limits.map((l) => ({
        ...l,
        resetMs: age(l.resetMs),
        retryAfterMs: l.retryAfterMs === null ? null : age(l.retryAfterMs),
      })),
    };
  }

  /** Forgets a key (after a reset). */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
