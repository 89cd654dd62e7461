/** @module The limiter core: policy → keys → one EVALSHA, with a timeout, fail modes, shadow mode and a denied cache. */
import { type BucketResult, bucketKeys, runTokenBucket } from "../../lua";
import { Metrics } from "../metrics";
import type { CompiledPolicies, CompiledPolicy } from "../policies";
import { DeniedCache } from "./denied-cache";
import type { Decision, RedisLike } from "./types";

export { DeniedCache } from "./denied-cache";
export type { Decision, DecisionReason, DecisionSource, RedisLike } from "./types";

/** How a limiter reaches Redis: called lazily on the first decision (Workers forbid I/O at global scope). */
export type RedisFactory = () => RedisLike;

export interface LimiterOptions {
  policies: CompiledPolicies;
  redis: RedisFactory;
  /** Bound on remembered denials per isolate (default 10 000). */
  deniedCacheSize?: number;
}

/** A rate limiter over one policies document. Create it once per isolate; it holds no I/O until first used. */
export interface Limiter {
  readonly policies: CompiledPolicies;
  readonly metrics: Metrics;
  /** Takes `cost` tokens for `identity` under `policy` (0 inspects), deciding by fail mode when Redis can't. */
  check(policy: CompiledPolicy, identity: string, cost: number): Promise<Decision>;
  /** Deletes the identity's buckets for the policy: the next request finds them full. */
  reset(policy: CompiledPolicy, identity: string): Promise<void>;
}

class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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

  async function decide(policy: CompiledPolicy, identity: string, cost: number): Promise<Decision> {
    const now = Date.now();
    const cached = cost > 0 ? denied.lookup(cacheKey(policy, identity), cost, now) : null;
    if (cached) {
      metrics.inc("erl_denied_cache_hits_total", { policy: policy.name });
      return fromResult(policy, cost, cached, true);
    }
    const names = policy.limits.map((l) => l.name);
    try {
      const keys = await bucketKeys(prefix, identity, policy.name, names);
      const result = await withTimeout(runTokenBucket(client(), keys, policy.limits, cost), policy.timeoutMs);
      metrics.observeLatency(Date.now() - now);
      if (result.reason === "limit_exceeded")
        denied.remember(cacheKey(policy, identity), cost, result, Date.now());
      return fromResult(policy, cost, result, false);
    } catch (error) {
      const timedOut = error instanceof TimeoutError;
      metrics.inc(timedOut ? "erl_redis_timeouts_total" : "erl_redis_errors_total", { policy: policy.name });
      if (!timedOut) console.error(`edge-rate-limiter: Redis error: ${(error as Error).message}`);
      const open = policy.onError === "open";
      return {
        allowed: open,
        reason: timedOut ? "redis_timeout" : "redis_error",
        source: open ? "fail_open" : "fail_closed",
        shadowed: false,
        policy,
        cost,
        result: null,
      };
    }
  }

  return {
    policies: options.policies,
    metrics,
    async check(policy, identity, cost) {
      const decision = await decide(policy, identity, cost);
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
      await withTimeout(client().del(...keys), Math.max(policy.timeoutMs, 1000));
    },
  };
}
