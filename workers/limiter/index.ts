/** @module The limiter: policy → local answer (lease, denied cache) → store (breaker, dispatcher) → decision. */
import { bucketKeyMaker, type LeaseArgs } from "../../lua";
import { Metrics } from "../metrics";
import type { CompiledPolicies, CompiledPolicy } from "../policies";
import { byFailMode, fromLocalShare } from "./decision";
import type { DispatchOptions } from "./dispatcher";
import { LEASE_LIFE_MS, type LeaseEntry } from "./lease";
import { LocalAnswers } from "./local-answer";
import { LocalShares } from "./local-share";
import { StoreAccess, type WaitUntil } from "./store-access";
import type { Decision, DecisionReason, RedisLike } from "./types";

export { DeniedCache } from "./denied-cache";
export { DISPATCH_DEFAULTS } from "./dispatcher";
export { LocalShares, shareOf } from "./local-share";
export { classifyStoreError } from "./store-call";
export { BREAKER_COOLDOWN_MS, type BreakerState } from "./store-health";
export type { Decision, DecisionReason, DecisionSource, RedisLike } from "./types";

/** How a limiter reaches Redis: called lazily on the first decision (Workers forbid I/O at global scope). */
export type RedisFactory = () => RedisLike;

export interface LimiterOptions {
  policies: CompiledPolicies;
  redis: RedisFactory;
  /** Bound on remembered denials and leased keys per isolate (default 10 000). */
  deniedCacheSize?: number;
  /**
   * The isolate's conversation with the store: `minInFlight` calls at once (default 2), more up to
   * `maxInFlight` (default 16) while the store answers unhurried, each carrying up to `maxTakesPerCall`
   * buckets' takes (default 128). See docs/configuration.md.
   */
  dispatch?: DispatchOptions;
}

/** Per-request hooks for work that outlives the response. */
export interface CheckOptions {
  /**
   * Keeps background work (lease top-ups and give-backs, a store call followers wait for) alive after the
   * response is sent: pass the Workers `ctx.waitUntil`. Without it the work still runs, but the runtime
   * may cut it short.
   */
  waitUntil?: WaitUntil;
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
  let redis: RedisLike | undefined;
  const store = new StoreAccess(() => (redis ??= options.redis()), metrics, options.dispatch);
  const local = new LocalAnswers(metrics, options.deniedCacheSize);
  const shares = new LocalShares(options.deniedCacheSize);
  const { prefix } = options.policies;
  const keyOf = (policy: CompiledPolicy, identity: string) => `${policy.name}\u0000${identity}`;
  const keyMakers = new WeakMap<CompiledPolicy, ReturnType<typeof bucketKeyMaker>>();
  /** The request's bucket keys: synchronous unless its identity must be hashed (awaits cost a turn each). */
  function keysOf(policy: CompiledPolicy, identity: string): string[] | Promise<string[]> {
    let maker = keyMakers.get(policy);
    if (!maker) {
      const names = policy.limits.map((l) => l.name);
      maker = bucketKeyMaker(prefix, policy.name, names);
      keyMakers.set(policy, maker);
    }
    return maker(identity);
  }

  async function decide(policy: CompiledPolicy, identity: string, cost: number, hooks: CheckOptions) {
    const now = Date.now();
    const key = keyOf(policy, identity);
    const found = local.lookup(policy, key, cost, now);
    if (found.answered) {
      store.answeredLocally();
      if (found.topUp > 0 && found.entry) {
        let keys = keysOf(policy, identity);
        if (keys instanceof Promise) keys = await keys;
        leaseInBackground(policy, keys, found.entry, { want: found.topUp, refund: 0 }, hooks);
      }
      return found.decision;
    }
    const admission = store.admit(now, policy);
    if (admission === "skip") {
      store.answeredLocally();
      return failed(policy, key, found.entry, cost, "redis_unavailable", true);
    }
    let keys = keysOf(policy, identity);
    if (keys instanceof Promise) keys = await keys;
    const lease = local.leaseArgs(found.entry, cost, now, policy);
    const outcome = await store.take(policy, keys, cost, lease, admission === "probe", hooks.waitUntil);
    local.leaseAnswered(found.entry, lease, cost);
    metrics.observeLatency(Date.now() - now);
    if (!outcome.ok) return failed(policy, key, found.entry, cost, outcome.failure.reason, false);
    metrics.inc("erl_bucket_clock_total", { clock: outcome.value.clock });
    if (lease?.refund)
      metrics.inc("erl_lease_tokens_total", { policy: policy.name, direction: "returned" }, lease.refund);
    leased(policy, keys, found.entry, outcome.value.allowed ? cost : 0, outcome.value, hooks);
    return local.decide(policy, key, found.entry, cost, outcome.value);
  }

  /**
   * The store could not decide: `onError` does. With `local`, the key's leased tokens first (the store
   * debited them), then the isolate's local share of every limit.
   */
  function failed(
    policy: CompiledPolicy,
    key: string,
    entry: LeaseEntry | null,
    cost: number,
    reason: DecisionReason,
    breaker: boolean,
  ): Decision {
    if (policy.onError !== "local") return byFailMode(policy, cost, reason, breaker);
    const backed = local.spendBacked(policy, entry, cost, Date.now());
    if (backed) return backed;
    const decision = fromLocalShare(policy, cost, shares.take(policy, key, cost, Date.now()), reason);
    const outcome = decision.allowed ? "allowed" : "denied";
    metrics.inc("erl_local_share_total", { policy: policy.name, outcome });
    return decision;
  }

  /** Tokens the store debited beyond `cost` join the lease; whatever is unspent when it expires goes back. */
  function leased(
    policy: CompiledPolicy,
    keys: string[],
    entry: LeaseEntry | null,
    cost: number,
    result: Parameters<LocalAnswers["deposit"]>[2],
    hooks: CheckOptions,
  ): void {
    const grantedAtMs = Date.now();
    if (!entry || local.deposit(policy, entry, result, cost, grantedAtMs) === 0) return;
    const giveBackWhenExpired = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() => {
        // While the store is away, a local-share policy keeps its backed tokens to spend; the key's next
        // store call gives back what is left.
        if (policy.onError === "local" && store.health.state !== "closed") return;
        const now = Date.now();
        const expiry = local.expiry(entry, grantedAtMs, now);
        if ("waitMs" in expiry) return giveBackWhenExpired(expiry.waitMs);
        if (expiry.refund > 0)
          leaseInBackground(policy, keys, entry, { want: 0, refund: expiry.refund }, hooks);
      });
    hooks.waitUntil?.(giveBackWhenExpired(LEASE_LIFE_MS + 1));
  }

  /** A store call for a lease alone (top-up or give-back), in the background of the request that made it. */
  function leaseInBackground(
    policy: CompiledPolicy,
    keys: string[],
    entry: LeaseEntry,
    lease: LeaseArgs,
    hooks: CheckOptions,
  ): void {
    if (store.health.state !== "closed") {
      local.leaseAnswered(entry, lease, 0);
      return;
    }
    const running = store.take(policy, keys, 0, lease, false, hooks.waitUntil).then((outcome) => {
      local.leaseAnswered(entry, lease, 0);
      if (!outcome.ok) return;
      metrics.inc("erl_lease_tokens_total", { policy: policy.name, direction: "returned" }, lease.refund);
      leased(policy, keys, entry, 0, outcome.value, hooks);
    });
    hooks.waitUntil?.(running);
  }

  return {
    policies: options.policies,
    metrics,
    async check(policy, identity, cost, hooks = {}) {
      const decision = await decide(policy, identity, cost, hooks);
      const outcome = decision.shadowed ? `shadow_${decision.reason}` : decision.reason;
      metrics.inc("erl_decisions_total", { policy: policy.name, outcome, source: decision.source });
      return decision;
    },
    async reset(policy, identity) {
      local.forget(keyOf(policy, identity));
      shares.forget(keyOf(policy, identity));
      await store.del(policy, await keysOf(policy, identity));
    },
  };
}
