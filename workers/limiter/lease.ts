/** @module Token leases: a hot key spends a slice of its bucket inside the isolate, each token debited by the store first. */
import type { BucketResult } from "../../lua";

/** How long a lease lives past its last top-up, or past the last request that spent from it near its target. */
export const LEASE_LIFE_MS = 500;
/**
 * The demand a lease is sized for: the key's local rate × this. A hot key's lease is topped up (one take
 * in a store call) twice per this span whatever the rate, so it sets what a hot key costs the store; a
 * top-up that comes back late from a loaded isolate still finds this much demand in hand.
 */
export const LEASE_DEMAND_MS = 1000;
/**
 * The demand a lease is sized from: requests in the last whole window, or in the current one once half of
 * it has passed (a key that turns hot leases within half a second).
 */
const RATE_WINDOW_MS = 1000;
/**
 * Fewer wanted tokens than this (under 15 requests a second) is not a hot key: per-request decisions cost
 * it nothing worth saving.
 */
const MIN_LEASE = 15;
/** The most tokens one lease takes (the script also caps it at a quarter of what the bucket holds). */
export const MAX_LEASE = 1000;

/** What a lease may hold for a demand of `want` tokens: one and a half times that, at most `MAX_LEASE`. */
function target(want: number): number {
  return Math.min(MAX_LEASE, Math.floor(want * 1.5));
}

/** One key's demand and lease in this isolate: plain numbers only, shared by the requests for that key. */
export interface LeaseEntry {
  windowStartMs: number;
  count: number;
  previousCount: number;
  /** Unspent tokens the store has already debited for this isolate. */
  tokens: number;
  expiresAtMs: number;
  /** The store's answer that granted the lease, and when it arrived (local clock). */
  snapshot: BucketResult | null;
  snapshotAtMs: number;
  /** When a lease request for this key left (one at a time); `-Infinity` when none is in flight. */
  requestedAtMs: number;
}

/**
 * Per-isolate leases, one entry per (policy, identity), the oldest evicted first when full. An evicted
 * entry's tokens are still returned by the timer that holds it.
 *
 * @example
 * const entry = leases.touch("api\0key:abc", Date.now());
 * if (leases.spend(entry, 1, Date.now())) { ...allowed from the lease... }
 */
export class LeaseTable {
  readonly #entries = new Map<string, LeaseEntry>();

  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /** The key's entry, counting this request towards its demand. */
  touch(key: string, nowMs: number): LeaseEntry {
    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= this.#maxEntries) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      entry = {
        windowStartMs: nowMs,
        count: 0,
        previousCount: 0,
        tokens: 0,
        expiresAtMs: 0,
        snapshot: null,
        snapshotAtMs: 0,
        requestedAtMs: Number.NEGATIVE_INFINITY,
      };
      this.#entries.set(key, entry);
    }
    const elapsed = nowMs - entry.windowStartMs;
    if (elapsed >= RATE_WINDOW_MS) {
      entry.previousCount = elapsed < 2 * RATE_WINDOW_MS ? entry.count : 0;
      entry.count = 0;
      entry.windowStartMs = nowMs;
    }
    entry.count++;
    return entry;
  }

  /**
   * Takes `cost` tokens from a live lease; false when it has too few (the caller asks the store). A lease
   * holding no more than its target lives another `LEASE_LIFE_MS` from this request: it hoards nothing,
   * and a steadily hot key's lease does not expire under it between top-ups.
   */
  spend(entry: LeaseEntry, cost: number, nowMs: number): boolean {
    if (cost <= 0 || entry.tokens < cost || nowMs >= entry.expiresAtMs) return false;
    entry.tokens -= cost;
    if (entry.tokens <= target(this.#demand(entry, nowMs))) entry.expiresAtMs = nowMs + LEASE_LIFE_MS;
    return true;
  }

  /**
   * The lease size to ask for: the key's demand over `LEASE_DEMAND_MS`, or 0 for a key that isn't hot or
   * whose lease request is still in flight (one per key; others ask for their own cost only).
   */
  wanted(entry: LeaseEntry, nowMs: number, staleAfterMs: number): number {
    return nowMs - entry.requestedAtMs < staleAfterMs ? 0 : this.#demand(entry, nowMs);
  }

  /** The key's rate (last or current window) × `LEASE_DEMAND_MS`, or 0 below `MIN_LEASE`. */
  #demand(entry: LeaseEntry, nowMs: number): number {
    const elapsed = nowMs - entry.windowStartMs;
    const current = elapsed >= RATE_WINDOW_MS / 2 ? (entry.count * RATE_WINDOW_MS) / elapsed : 0;
    const perWindow = Math.max(entry.previousCount, current);
    const want = Math.min(MAX_LEASE, Math.ceil((perWindow * LEASE_DEMAND_MS) / RATE_WINDOW_MS));
    return want >= MIN_LEASE ? want : 0;
  }

  /**
   * Tokens to top a live lease up with in the background, or 0: once it holds two thirds of its target
   * (one and a half times the demand, at most `MAX_LEASE`), what it lacks of that target. The second of
   * demand still in hand covers a top-up that comes back late: a loaded isolate runs background work last.
   */
  topUp(entry: LeaseEntry, nowMs: number, staleAfterMs: number): number {
    const full = target(this.wanted(entry, nowMs, staleAfterMs));
    return full > 0 && entry.tokens * 3 <= full * 2 ? full - entry.tokens : 0;
  }

  /** Unspent tokens of an expired lease, handed over (once) for the caller to give back. */
  takeExpired(entry: LeaseEntry, nowMs: number): number {
    if (entry.tokens === 0 || nowMs < entry.expiresAtMs) return 0;
    const unspent = entry.tokens;
    entry.tokens = 0;
    return unspent;
  }

  /**
   * Adds tokens the store debited beyond a request's cost; the lease (with any tokens it still holds, all
   * of them backed by the store) lives another `LEASE_LIFE_MS`.
   */
  deposit(entry: LeaseEntry, extra: number, result: BucketResult, nowMs: number): void {
    entry.tokens += extra;
    entry.expiresAtMs = nowMs + LEASE_LIFE_MS;
    entry.snapshot = result;
    entry.snapshotAtMs = nowMs;
  }

  /**
   * The bucket as a lease decision reports it: the store's last answer aged to now, each limit's
   * `remaining` that answer's remaining plus the tokens this isolate still holds (never above capacity).
   */
  view(entry: LeaseEntry, nowMs: number): BucketResult | null {
    const result = entry.snapshot;
    if (!result) return null;
    const elapsed = nowMs - entry.snapshotAtMs;
    return {
      ...result,
      allowed: true,
      reason: null,
      deniedBy: [],
      retryAfterMs: 0,
      nowMs: result.nowMs + elapsed,
      limits: result.limits.map((l) => ({
        ...l,
        remaining: Math.min(l.limit, l.remaining + entry.tokens),
        resetMs: Math.max(0, l.resetMs - elapsed),
        retryAfterMs: 0,
        reason: null,
      })),
    };
  }

  /** Forgets a key's lease (after a reset: its tokens were deleted with the bucket). */
  forget(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) entry.tokens = 0;
  }
}
