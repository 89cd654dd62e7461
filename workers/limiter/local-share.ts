/** @module `onError: "local"`: while the store is unavailable, each isolate admits a bounded share of every limit on its own. */
import type { BucketResult, LimitResult, LimitSpec } from "../../lua";
import type { CompiledPolicy, LocalShare } from "../policies";

const EPSILON = 1e-9;

/** One isolate's bucket for one (policy, identity): tokens per limit, scaled like the store's by the interval. */
interface LocalBucket {
  /** Tokens per limit, as real numbers (the share of a capacity need not be whole). */
  tokens: number[];
  stampMs: number;
}

/** A limit scaled to the isolate's share: the same refill period, capacity and refill times the share. */
interface ShareOfLimit {
  capacity: number;
  /** Tokens per millisecond. */
  ratePerMs: number;
}

/**
 * The share of one limit an isolate may use: `fraction` of its capacity and refill, or at most `tokens`
 * of its capacity with the refill scaled by the same ratio (so the bucket fills in the same time).
 *
 * @example
 * shareOf({ capacity: 100, refillTokens: 10, refillIntervalMs: 1000, name: "s" }, { kind: "fraction", fraction: 0.1 });
 * // { capacity: 10, ratePerMs: 0.001 }
 */
export function shareOf(limit: LimitSpec, share: LocalShare): ShareOfLimit {
  const ratio = share.kind === "fraction" ? share.fraction : Math.min(1, share.tokens / limit.capacity);
  return {
    capacity: limit.capacity * ratio,
    ratePerMs: (limit.refillTokens * ratio) / limit.refillIntervalMs,
  };
}

/**
 * In-isolate token buckets for `onError: "local"`, one per (policy, identity), full when first used: the
 * same all-or-nothing rule over every limit as the store's script, on the isolate's own clock. Bounded:
 * the oldest bucket goes first when full (a forgotten bucket comes back full, which the documented bound
 * already counts: it is one more isolate's share).
 *
 * @example
 * const shares = new LocalShares(10_000);
 * const result = shares.take(policy, "api\0key:abc", 1, Date.now());
 * if (result.allowed) { ...admitted by this isolate's share... }
 */
export class LocalShares {
  readonly #buckets = new Map<string, LocalBucket>();
  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /**
   * Takes `cost` from every limit's local share, or nothing; the answer has the shape of the store's, so
   * a denial carries `Retry-After` and the usual headers (with this isolate's remaining share).
   */
  take(policy: CompiledPolicy, key: string, cost: number, nowMs: number): BucketResult {
    const share = policy.localShare ?? { kind: "fraction", fraction: 0 };
    const limits = policy.limits.map((limit) => shareOf(limit, share));
    const bucket = this.#bucket(key, limits, nowMs);
    limits.forEach((l, i) => {
      const elapsed = Math.max(0, nowMs - bucket.stampMs);
      bucket.tokens[i] = Math.min(l.capacity, (bucket.tokens[i] ?? l.capacity) + elapsed * l.ratePerMs);
    });
    bucket.stampMs = Math.max(bucket.stampMs, nowMs);
    // A share such as 0.1 × 30 is 3.0000000000000004 or 2.9999999999999996 in doubles: compare with a margin.
    const fits = limits.map(
      (l, i) => cost <= l.capacity + EPSILON && (bucket.tokens[i] ?? 0) + EPSILON >= cost,
    );
    const allowed = fits.every(Boolean);
    if (allowed && cost > 0)
      for (let i = 0; i < limits.length; i++) bucket.tokens[i] = (bucket.tokens[i] ?? 0) - cost;
    const results: LimitResult[] = policy.limits.map((spec, i) => {
      const l = limits[i] as ShareOfLimit;
      const tokens = bucket.tokens[i] ?? 0;
      const never = cost > l.capacity + EPSILON;
      const wait = fits[i] || allowed ? 0 : Math.ceil((cost - tokens) / l.ratePerMs);
      return {
        name: spec.name,
        limit: spec.capacity,
        remaining: Math.floor(tokens + EPSILON),
        resetMs: Math.ceil((l.capacity - tokens) / l.ratePerMs),
        retryAfterMs: never ? null : wait,
        reason: allowed || fits[i] ? null : never ? "cost_exceeds_capacity" : "limit_exceeded",
      };
    });
    const denied = results.filter((l) => l.reason !== null);
    return {
      allowed,
      reason: denied[0]?.reason ?? null,
      deniedBy: denied.map((l) => l.name),
      retryAfterMs: denied.some((l) => l.retryAfterMs === null)
        ? null
        : Math.max(0, ...denied.map((l) => l.retryAfterMs ?? 0)),
      nowMs,
      clock: "caller",
      taken: allowed ? cost : 0,
      granted: allowed ? 1 : 0,
      limits: results,
    };
  }

  #bucket(key: string, limits: readonly ShareOfLimit[], nowMs: number): LocalBucket {
    const found = this.#buckets.get(key);
    if (found) return found;
    if (this.#buckets.size >= this.#maxEntries) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    const bucket = { tokens: limits.map((l) => l.capacity), stampMs: nowMs };
    this.#buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets a key's local bucket (after a reset). */
  forget(key: string): void {
    this.#buckets.delete(key);
  }
}
