/** @module The limiter's local stage: answers from the isolate's memory (a hot key's lease, a remembered denial), no I/O. */
import type { BucketResult, LeaseArgs } from "../../lua";
import type { Metrics } from "../metrics";
import type { CompiledPolicy } from "../policies";
import { fromBucket, fromLease } from "./decision";
import { DeniedCache } from "./denied-cache";
import { type LeaseEntry, LeaseTable } from "./lease";
import type { Decision } from "./types";

/** What the isolate knows of a decision before asking the store. */
export type LocalLookup =
  /** Answered here; `topUp` > 0 asks for a bigger lease in the background. */
  | { answered: true; decision: Decision; topUp: number; entry: LeaseEntry | null }
  /** The store must decide; `entry` is the key's lease entry when it can hold one. */
  | { answered: false; entry: LeaseEntry | null };

/**
 * Leases and the denied cache of one isolate: plain data, read and written only by this stage.
 *
 * @example
 * const local = new LocalAnswers(metrics, 10_000);
 * const found = local.lookup(policy, key, 1, Date.now());
 * if (found.answered) return found.decision;
 */
export class LocalAnswers {
  readonly #leases: LeaseTable;
  readonly #denied: DeniedCache;
  readonly #metrics: Metrics;

  constructor(metrics: Metrics, size?: number) {
    this.#metrics = metrics;
    this.#leases = new LeaseTable(size);
    this.#denied = new DeniedCache(size);
  }

  /** A lease token or a remembered denial for `key`, if the isolate holds one. */
  lookup(policy: CompiledPolicy, key: string, cost: number, now: number): LocalLookup {
    const entry = policy.lease === "auto" && cost > 0 ? this.#leases.touch(key, now) : null;
    if (entry && this.#leases.spend(entry, cost, now)) {
      const topUp = this.#leases.topUp(entry, now, policy.maxWaitMs);
      if (topUp > 0) entry.requestedAtMs = now;
      return {
        answered: true,
        decision: fromLease(policy, cost, this.#leases.view(entry, now)),
        topUp,
        entry,
      };
    }
    const cached = cost > 0 ? this.#denied.lookup(key, cost, now) : null;
    if (!cached) return { answered: false, entry };
    this.#metrics.inc("erl_denied_cache_hits_total", { policy: policy.name });
    return { answered: true, decision: fromBucket(policy, cost, cached, true), topUp: 0, entry };
  }

  /** What a store call for `entry` asks besides `cost`: a lease when the key is hot, unspent tokens back. */
  leaseArgs(
    entry: LeaseEntry | null,
    cost: number,
    now: number,
    policy: CompiledPolicy,
  ): LeaseArgs | undefined {
    if (!entry) return undefined;
    const refund = this.#leases.takeExpired(entry, now);
    const want = this.#leases.wanted(entry, now, policy.maxWaitMs);
    if (want > cost) entry.requestedAtMs = now;
    if (want <= cost && refund === 0) return undefined;
    return { want: Math.max(want, cost), refund };
  }

  /** The lease request that left with a call has its answer (or failed): another may leave. */
  leaseAnswered(entry: LeaseEntry | null, lease: LeaseArgs | undefined, cost: number): void {
    if (entry && lease && lease.want > cost) entry.requestedAtMs = Number.NEGATIVE_INFINITY;
  }

  /**
   * Keeps what the store debited beyond `cost` (returns how many tokens, so the caller can give them back
   * when the lease expires) and remembers a denial.
   */
  deposit(
    policy: CompiledPolicy,
    entry: LeaseEntry | null,
    result: BucketResult,
    cost: number,
    now: number,
  ): number {
    const extra = result.taken - cost;
    if (!entry || extra <= 0) return 0;
    this.#leases.deposit(entry, extra, result, now);
    this.#metrics.inc("erl_lease_tokens_total", { policy: policy.name, direction: "taken" }, extra);
    return extra;
  }

  /**
   * The decision for the store's answer: a denial with lease tokens at hand (another request deposited
   * them while this one asked) is not a 429; other denials are remembered until their retry time.
   */
  decide(
    policy: CompiledPolicy,
    key: string,
    entry: LeaseEntry | null,
    cost: number,
    result: BucketResult,
  ): Decision {
    const now = Date.now();
    if (!result.allowed && entry && this.#leases.spend(entry, cost, now))
      return fromLease(policy, cost, this.#leases.view(entry, now));
    if (result.reason === "limit_exceeded") this.#denied.remember(key, cost, result, now);
    return fromBucket(policy, cost, result, false);
  }

  /**
   * Spends `cost` of the lease's tokens even past its expiry: while the store is unavailable they cannot
   * go back, and the store debited every one of them, so spending them admits nothing unbacked.
   */
  spendBacked(policy: CompiledPolicy, entry: LeaseEntry | null, cost: number, now: number): Decision | null {
    if (!entry || cost <= 0 || entry.tokens < cost) return null;
    entry.tokens -= cost;
    return fromLease(policy, cost, this.#leases.view(entry, now));
  }

  /**
   * What the expiry timer of the grant made at `grantedAtMs` does now: wait while requests keep the lease
   * alive, else give back its unspent tokens (handed over once; none when a later grant took over, since
   * that grant's own timer watches the lease).
   */
  expiry(entry: LeaseEntry, grantedAtMs: number, now: number): { waitMs: number } | { refund: number } {
    if (entry.snapshotAtMs !== grantedAtMs) return { refund: 0 };
    const waitMs = entry.expiresAtMs - now;
    return waitMs > 0 ? { waitMs: waitMs + 1 } : { refund: this.#leases.takeExpired(entry, now) };
  }

  /** Forgets what the isolate holds for `key` (after a reset deleted its buckets). */
  forget(key: string): void {
    this.#denied.forget(key);
    this.#leases.forget(key);
  }
}
