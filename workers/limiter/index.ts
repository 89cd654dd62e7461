/** @module The limiter core: policy → keys → one EVALSHA, waited for while the store is busy, fail modes behind a breaker. */
import { type BucketResult, bucketKeys, type LeaseArgs, runTokenBucket } from "../../lua";
import { Metrics } from "../metrics";
import type { CompiledPolicies, CompiledPolicy } from "../policies";
import { DeniedCache } from "./denied-cache";
import { LEASE_HORIZON_MS, type LeaseEntry, LeaseTable } from "./lease";
import { callStore, type StoreFailure } from "./store-call";
import { StoreHealth } from "./store-health";
import type { Decision, DecisionReason, RedisLike } from "./types";

export { DeniedCache } from "./denied-cache";
export { classifyStoreError } from "./store-call";
export { BREAKER_COOLDOWN_MS, type BreakerState } from "./store-health";
export type { Decision, DecisionReason, DecisionSource, RedisLike } from "./types";

/** How a limiter reaches Redis: called lazily on the first decision (Workers forbid I/O at global scope). */
export type RedisFactory = () => RedisLike;

export interface LimiterOptions {
  policies: CompiledPolicies;
  redis: RedisFactory;
  /** Bound on remembered denials per isolate (default 10 000). */
  deniedCacheSize?: number;
}

/** Per-request hooks for work that outlives the response. */
export interface CheckOptions {
  /**
   * Keeps background work (the breaker's probe) alive after the response is sent: pass the Workers
   * `ctx.waitUntil`. Without it the work still runs, but the runtime may cut it short.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** A rate limiter over one policies document. Create it once per isolate; it holds no I/O until first used. */
export interface Limiter {
  readonly policies: CompiledPolicies;
  readonly metrics: Metrics;
  /** Takes `cost` tokens for `identity` under `policy` (0 inspects), deciding by fail mode when Redis can't. */
  check(policy: CompiledPolicy, identity: string, cost: number, options?: CheckOptions): Promise<Decision>;
  /** Deletes the identity's buckets for the policy: the next request finds them full. */
  reset(policy: CompiledPolicy, identity: string): Promise<void>;
}

function fromResult(policy: CompiledPolicy, cost: number, result: BucketResult, cached: boolean): Decision {
  const shadowed = !result.allowed && policy.mode === "shadow";
  return {
    allowed: result.allowed || shadowed,
    reason: result.allowed ? "allowed" : (result.reason ?? "limit_exceeded"),
    source: cached ? "denied_cache" : "redis",
    shadowed,
    policy,
    cost,
    result,
  };
}

/**
 * Creates a limiter for a compiled policies document.
 *
 * @example
 * const limiter = createLimiter({
 *   policies: compiled,
 *   redis: () => new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN }),
 * });
 * const decision = await limiter.check(compiled.policies.get("api")!, "key:abc", 1);
 */
export function createLimiter(options: LimiterOptions): Limiter {
  const metrics = new Metrics();
  const denied = new DeniedCache(options.deniedCacheSize);
  const { prefix } = options.policies;
  let redis: RedisLike | undefined;
  const client = () => {
    redis ??= options.redis();
    return redis;
  };
  const cacheKey = (policy: CompiledPolicy, identity: string) => `${policy.name}\u0000${identity}`;

  const leases = new LeaseTable(options.deniedCacheSize);
  const health = new StoreHealth(function recordTransition(to) {
    metrics.inc("erl_breaker_transitions_total", { to });
    metrics.set("erl_breaker_open", {}, to === "closed" ? 0 : 1);
  });
  metrics.set("erl_breaker_open", {}, 0);

  function failMode(
    policy: CompiledPolicy,
    cost: number,
    reason: DecisionReason,
    breaker: boolean,
  ): Decision {
    const open = policy.onError === "open";
    const source = breaker ? "breaker" : open ? "fail_open" : "fail_closed";
    return { allowed: open, reason, source, shadowed: false, policy, cost, result: null };
  }

  function recordFailure(policy: CompiledPolicy, failure: StoreFailure, probe: boolean): void {
    const timedOut = failure.reason === "redis_timeout";
    metrics.inc(timedOut ? "erl_redis_timeouts_total" : "erl_redis_errors_total", { policy: policy.name });
    if (failure.kind === "unavailable") health.unavailable(Date.now(), probe, failure.silenceMs);
    if (!timedOut || failure.kind === "overloaded")
      console.error(`edge-rate-limiter: Redis error: ${failure.message}`);
  }

  /**
   * The breaker's probe: a cost-0 inspection of the request's own buckets (it writes nothing), run in the
   * background so the request that triggered it is answered at once like the others.
   */
  async function probe(policy: CompiledPolicy, keys: string[]): Promise<void> {
    const outcome = await callStore(health, policy, () => runTokenBucket(client(), keys, policy.limits, 0));
    if (!outcome.ok) recordFailure(policy, outcome.failure, true);
  }

  /** A store call for a lease alone (top-up or give-back), in the background of the request that made it. */
  function leaseInBackground(
    policy: CompiledPolicy,
    keys: string[],
    entry: LeaseEntry,
    lease: LeaseArgs,
    options: CheckOptions,
  ): void {
    if (health.state !== "closed") return;
    if (lease.want > 0) entry.requestedAtMs = Date.now();
    const running = callStore(health, policy, () =>
      runTokenBucket(client(), keys, policy.limits, 0, lease),
    ).then((outcome) => {
      if (lease.want > 0) entry.requestedAtMs = Number.NEGATIVE_INFINITY;
      if (!outcome.ok) return recordFailure(policy, outcome.failure, false);
      metrics.inc("erl_lease_tokens_total", { policy: policy.name, direction: "returned" }, lease.refund);
      if (outcome.value.taken > 0) granted(policy, keys, entry, outcome.value, 0, options);
    });
    options.waitUntil?.(running);
  }

  /** Keeps the tokens the store debited beyond `cost`, and gives back whatever is left unspent when the lease expires. */
  function granted(
    policy: CompiledPolicy,
    keys: string[],
    entry: LeaseEntry,
    result: BucketResult,
    cost: number,
    options: CheckOptions,
  ): void {
    const extra = result.taken - cost;
    if (extra <= 0) return;
    leases.deposit(entry, extra, result, Date.now());
    metrics.inc("erl_lease_tokens_total", { policy: policy.name, direction: "taken" }, extra);
    const expiry = new Promise<void>((resolve) => setTimeout(resolve, LEASE_HORIZON_MS + 1)).then(() => {
      const refund = leases.takeExpired(entry, Date.now());
      if (refund > 0) leaseInBackground(policy, keys, entry, { want: 0, refund }, options);
    });
    options.waitUntil?.(expiry);
  }

  /** Admitted from the isolate's lease: a token the store already debited, no call. */
  function fromLease(policy: CompiledPolicy, cost: number, entry: LeaseEntry, now: number): Decision {
    const result = leases.view(entry, now);
    return { allowed: true, reason: "allowed", source: "lease", shadowed: false, policy, cost, result };
  }

  async function decide(
    policy: CompiledPolicy,
    identity: string,
    cost: number,
    options: CheckOptions,
  ): Promise<Decision> {
    const now = Date.now();
    const key = cacheKey(policy, identity);
    const entry = policy.lease === "auto" && cost > 0 ? leases.touch(key, now) : null;
    if (entry && leases.spend(entry, cost, now)) {
      if (leases.runningLow(entry, now, policy.maxWaitMs)) {
        const want = leases.wanted(entry, now, policy.maxWaitMs);
        const keys = await keysOf(policy, identity);
        leaseInBackground(policy, keys, entry, { want, refund: 0 }, options);
      }
      return fromLease(policy, cost, entry, now);
    }
    const cached = cost > 0 ? denied.lookup(key, cost, now) : null;
    if (cached) {
      metrics.inc("erl_denied_cache_hits_total", { policy: policy.name });
      return fromResult(policy, cost, cached, true);
    }
    const admission = health.admit(now, policy);
    if (admission === "skip") return failMode(policy, cost, "redis_unavailable", true);
    const keys = await keysOf(policy, identity);
    if (admission === "probe") {
      const running = probe(policy, keys);
      options.waitUntil?.(running);
      return failMode(policy, cost, "redis_unavailable", true);
    }
    const lease = entry ? leaseArgs(entry, cost, now, policy) : undefined;
    const outcome = await callStore(health, policy, () =>
      runTokenBucket(client(), keys, policy.limits, cost, lease),
    );
    if (entry && lease && lease.want > cost) entry.requestedAtMs = Number.NEGATIVE_INFINITY;
    metrics.observeLatency(Date.now() - now);
    metrics.set("erl_store_longest_silence_ms", {}, health.longestSilenceMs);
    if (!outcome.ok) {
      recordFailure(policy, outcome.failure, false);
      return failMode(policy, cost, outcome.failure.reason, false);
    }
    const result = outcome.value;
    if (lease?.refund)
      metrics.inc("erl_lease_tokens_total", { policy: policy.name, direction: "returned" }, lease.refund);
    if (entry) {
      granted(policy, keys, entry, result, result.allowed ? cost : 0, options);
      // Tokens another request deposited while this one asked: a denial with tokens at hand is not a 429.
      if (!result.allowed && leases.spend(entry, cost, Date.now()))
        return fromLease(policy, cost, entry, Date.now());
    }
    if (result.reason === "limit_exceeded") denied.remember(key, cost, result, Date.now());
    return fromResult(policy, cost, result, false);
  }

  /** What a store call for `entry` asks besides `cost`: a lease when the key is hot, unspent tokens back. */
  function leaseArgs(
    entry: LeaseEntry,
    cost: number,
    now: number,
    policy: CompiledPolicy,
  ): LeaseArgs | undefined {
    const refund = leases.takeExpired(entry, now);
    const want = leases.wanted(entry, now, policy.maxWaitMs);
    if (want > cost) entry.requestedAtMs = now;
    if (want <= cost && refund === 0) return undefined;
    return { want: Math.max(want, cost), refund };
  }

  function keysOf(policy: CompiledPolicy, identity: string): Promise<string[]> {
    return bucketKeys(
      prefix,
      identity,
      policy.name,
      policy.limits.map((l) => l.name),
    );
  }

  return {
    policies: options.policies,
    metrics,
    async check(policy, identity, cost, checkOptions = {}) {
      const decision = await decide(policy, identity, cost, checkOptions);
      const outcome = decision.shadowed ? `shadow_${decision.reason}` : decision.reason;
      metrics.inc("erl_decisions_total", { policy: policy.name, outcome, source: decision.source });
      return decision;
    },
    async reset(policy, identity) {
      const keys = await bucketKeys(
        prefix,
        identity,
        policy.name,
        policy.limits.map((l) => l.name),
      );
      denied.forget(cacheKey(policy, identity));
      leases.forget(cacheKey(policy, identity));
      const admission = health.admit(Date.now(), policy);
      if (admission === "skip") throw new Error("the store is unavailable (circuit breaker open)");
      const outcome = await callStore(health, policy, () => client().del(...keys));
      if (outcome.ok) return;
      recordFailure(policy, outcome.failure, admission === "probe");
      throw new Error(outcome.failure.message);
    },
  };
}
