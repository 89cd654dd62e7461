/** @module The limiter's store stage: the breaker's admission, then the dispatcher; failures recorded once, here. */
import type { BucketResult, LeaseArgs } from "../../lua";
import type { Metrics } from "../metrics";
import type { CompiledPolicy } from "../policies";
import { type DispatchOptions, StoreDispatcher } from "./dispatcher";
import { callStore, type StoreFailure, type StoreOutcome } from "./store-call";
import { type Admission, StoreHealth } from "./store-health";
import type { RedisLike } from "./types";

/** Keeps work that outlives the response alive (the Workers `ctx.waitUntil`). */
export type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * The store as the limiter sees it: whether to ask (the breaker), asking (the dispatcher), and what each
 * failure means for the breaker and the metrics.
 *
 * @example
 * const store = new StoreAccess(() => redis, metrics);
 * if (store.admit(Date.now(), policy) !== "skip") await store.take(policy, keys, 1, undefined, false);
 */
export class StoreAccess {
  readonly health: StoreHealth;
  readonly #dispatcher: StoreDispatcher;
  readonly #client: () => RedisLike;
  readonly #metrics: Metrics;

  constructor(client: () => RedisLike, metrics: Metrics, options: DispatchOptions = {}) {
    this.#client = client;
    this.#metrics = metrics;
    this.health = new StoreHealth(function recordTransition(to) {
      metrics.inc("erl_breaker_transitions_total", { to });
      metrics.set("erl_breaker_open", {}, to === "closed" ? 0 : 1);
    });
    metrics.set("erl_breaker_open", {}, 0);
    this.#dispatcher = new StoreDispatcher(client, this.health, metrics, options);
  }

  /**
   * A decision answered without the store (lease, denied cache, breaker): still an event the isolate ran.
   * A flood answered locally delays the store's answers as much as one that asks it.
   */
  answeredLocally(): void {
    this.#dispatcher.answeredLocally();
  }

  /** Whether a decision starting now asks the store, asks it as the breaker's probe, or goes by `onError`. */
  admit(now: number, policy: CompiledPolicy): Admission {
    return this.health.admit(now, policy);
  }

  /**
   * Takes `cost` from the policy's buckets through the dispatcher. A probe decides like any call but waits
   * no longer than the policy's `timeoutMs`: when the store answers in time, the answer is the decision.
   */
  async take(
    policy: CompiledPolicy,
    keys: string[],
    cost: number,
    lease: LeaseArgs | undefined,
    probe: boolean,
    waitUntil?: WaitUntil,
  ): Promise<StoreOutcome<BucketResult>> {
    const group = `${keys.join(" ")} ${cost}`;
    const limits = probe ? { timeoutMs: policy.timeoutMs, maxWaitMs: policy.timeoutMs } : policy;
    const ask = { group, keys, limits: policy.limits, cost, lease, clock: policy.clock };
    const outcome = await this.#dispatcher.take(ask, limits, waitUntil);
    this.#metrics.set("erl_store_longest_silence_ms", {}, this.health.longestSilenceMs);
    if (!outcome.ok) this.#failed(policy, outcome.failure, probe);
    return outcome;
  }

  /** Deletes keys (a reset): one plain call, waited for like a decision. */
  async del(policy: CompiledPolicy, keys: string[]): Promise<void> {
    const admission = this.admit(Date.now(), policy);
    if (admission === "skip") throw new Error("the store is unavailable (circuit breaker open)");
    const outcome = await callStore(this.health, policy.timeoutMs, () => this.#client().del(...keys));
    if (outcome.ok) return;
    this.#failed(policy, outcome.failure, admission === "probe");
    throw new Error(outcome.failure.message);
  }

  #failed(policy: CompiledPolicy, failure: StoreFailure, probe: boolean): void {
    const timedOut = failure.reason === "redis_timeout";
    this.#metrics.inc(timedOut ? "erl_redis_timeouts_total" : "erl_redis_errors_total", {
      policy: policy.name,
    });
    // A probe that got no answer in its time, for whatever reason, leaves the breaker open for another cool-down.
    if (failure.kind === "unavailable") this.health.unavailable(Date.now(), probe, failure.silenceMs);
    else if (probe) this.health.unavailable(Date.now(), probe);
    if (!timedOut || failure.kind === "overloaded")
      console.error(`edge-rate-limiter: Redis error: ${failure.message}`);
  }
}
