/** @module The limiter's one result type: what was decided, why, and the bucket state behind it. */
import type { BucketResult, ScriptRunner } from "../../lua";
import type { CompiledPolicy } from "../policies";

/**
 * Why a decision came out as it did.
 * - `allowed`: every limit had the tokens.
 * - `limit_exceeded` / `cost_exceeds_capacity`: a limit said no (see `result.deniedBy`).
 * - `redis_error`: the store failed this call (connection refused, a gateway error, an error reply).
 * - `redis_timeout`: the store answered nothing at all for `timeoutMs`, or this call waited `maxWaitMs`.
 * - `redis_unavailable`: the breaker is open (the store was found unavailable moments ago), so the
 *   store was not asked.
 *
 * In the last three the policy's `onError` decided (with `onError: "local"`, the isolate's local share or
 * a lease's backed tokens: see `source`).
 */
export type DecisionReason =
  | "allowed"
  | "limit_exceeded"
  | "cost_exceeds_capacity"
  | "redis_error"
  | "redis_timeout"
  | "redis_unavailable";

/**
 * Where the answer came from: the store, a token this isolate leased from the store earlier, the
 * isolate's memory of denials, the open breaker (`onError`
 * without asking), `onError` after a failed store call, or (`onError: "local"`) the isolate's local share
 * while the store is unavailable, asked or not.
 */
export type DecisionSource =
  | "redis"
  | "lease"
  | "denied_cache"
  | "breaker"
  | "fail_open"
  | "fail_closed"
  | "fail_local";

/** The outcome of one rate-limit check. */
export interface Decision {
  /** Let the request through? (A `shadow` policy always does.) */
  allowed: boolean;
  reason: DecisionReason;
  source: DecisionSource;
  /** True when the bucket said no but the policy is in `shadow` mode, so the request went through. */
  shadowed: boolean;
  policy: CompiledPolicy;
  cost: number;
  /** The bucket's state; `null` when Redis did not answer. */
  result: BucketResult | null;
}

/** A pipeline as `@upstash/redis` builds one: commands queued, sent in one exchange, an entry per command. */
export interface PipelineLike {
  evalsha(sha1: string, keys: string[], args: string[]): PipelineLike;
  eval(script: string, keys: string[], args: string[]): PipelineLike;
  exec(options: { keepErrors: true }): Promise<Array<{ result?: unknown; error?: string | null }>>;
}

/**
 * What the limiter needs of a Redis client: the script calls plus DEL for resets, and `pipeline()` to send
 * many decisions in one exchange (without it, a call's decisions go out as concurrent script calls).
 * `@upstash/redis` fits.
 */
export interface RedisLike extends ScriptRunner {
  del(...keys: string[]): Promise<number>;
  pipeline?(): PipelineLike;
}
