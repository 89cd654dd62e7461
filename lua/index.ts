/** @module The token-bucket script: its text and SHA1, argument encoding, reply decoding, EVALSHA with EVAL fallback. */
import { hexDigest } from "./digest";
import { bucketKeys } from "./keys";
import source from "./token_bucket.lua";

export { bucketKeyMaker, bucketKeys, KEY_NAME_PATTERN, keyIdentity } from "./keys";
export { forStockRedis, KEY_LOCKING_FLAG, shebangFlags } from "./shebang";

/** The script's text, inlined from `token_bucket.lua` by the bundler (the file is the one source). */
export const TOKEN_BUCKET_LUA: string = source;

/** One limit of a policy: `capacity` tokens, refilled continuously at `refillTokens` per `refillIntervalMs`. */
export interface LimitSpec {
  name: string;
  capacity: number;
  refillTokens: number;
  refillIntervalMs: number;
}

/**
 * Which clock decides a call. `store`: the store's `TIME` (one clock every isolate shares), or the
 * caller's when the store refuses `TIME` in a script; `caller`: always the caller's (see docs/architecture.md
 * for what a skew between callers costs).
 */
export type BucketClock = "store" | "caller";

/** The clock a call offers the script: which to prefer, and the caller's time (Unix ms). */
export interface ClockArgs {
  use: BucketClock;
  nowMs: number;
}

/** Why a limit (or the whole decision) said no. */
export type DenyReason = "limit_exceeded" | "cost_exceeds_capacity";

/** One limit's state after the decision. */
export interface LimitResult {
  name: string;
  /** The limit's capacity. */
  limit: number;
  /** Whole tokens left after this call (unchanged when denied). */
  remaining: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
  /** Milliseconds until this limit holds `cost` tokens: 0 when it does now, `null` when it never can. */
  retryAfterMs: number | null;
  /** `null` when this limit alone would allow the request. */
  reason: DenyReason | null;
}

/** The outcome of one token-bucket call. */
export interface BucketResult {
  allowed: boolean;
  /** The first limit's reason that denied, in policy order; `null` when allowed. */
  reason: DenyReason | null;
  /** Names of the limits that denied. */
  deniedBy: string[];
  /** Milliseconds until every limit holds `cost` tokens (0 when allowed); `null` when it never will. */
  retryAfterMs: number | null;
  /** Time of the decision (Unix ms) by the clock that decided it (see `clock`). */
  nowMs: number;
  /** The clock that decided: the store's `TIME`, or the caller's (asked for, or the store refused `TIME`). */
  clock: BucketClock;
  /** Tokens taken from every limit: the cost of each granted request, plus a lease's extra tokens; 0 when denied. */
  taken: number;
  /** How many of the call's requests got their tokens (a merged take decides several; see `encodeArgs`). */
  granted: number;
  limits: LimitResult[];
}

/** A lease request: take up to `want` tokens (at least the cost), after giving `refund` unspent ones back. */
export interface LeaseArgs {
  want: number;
  refund: number;
}

/** What the script needs of a Redis client. `@upstash/redis`'s `Redis` fits as it is. */
export interface ScriptRunner {
  evalsha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

const STATUS_REASONS: Record<number, DenyReason | null> = {
  0: null,
  1: "limit_exceeded",
  2: "cost_exceeds_capacity",
};

// The value, not the promise, is shared: workerd cancels a request that awaits a promise another request created.
let sha1Hex: string | undefined;

/**
 * Hex SHA1 of the script, as Redis computes it for EVALSHA (Web Crypto, so it runs in workerd too).
 *
 * @example
 * await tokenBucketSha1(); // "5f2a…"
 */
export async function tokenBucketSha1(): Promise<string> {
  if (sha1Hex) return sha1Hex;
  sha1Hex = await hexDigest("SHA-1", TOKEN_BUCKET_LUA);
  return sha1Hex;
}

/**
 * ARGV for the script: the cost, then capacity, refill tokens and interval of each limit, then always the
 * tail: a lease's `want` and `refund` (the cost and 0 without one), `count` (how many requests of `cost`
 * the call decides: a merged take grants the first `granted` of them), the caller's clock and which clock
 * to prefer.
 *
 * @example
 * encodeArgs(1, [{ name: "burst", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 }]);
 * // ["1", "10", "5", "1000", "1", "0", "1", "1733380000000", "store"]
 * encodeArgs(1, limits, undefined, 40, { use: "caller", nowMs: Date.now() }); // up to 40 requests, caller's clock
 */
export function encodeArgs(
  cost: number,
  limits: readonly LimitSpec[],
  lease?: LeaseArgs,
  count = 1,
  clock: ClockArgs = { use: "store", nowMs: Date.now() },
): string[] {
  const args = [String(cost)];
  for (const l of limits) args.push(String(l.capacity), String(l.refillTokens), String(l.refillIntervalMs));
  args.push(String(lease?.want ?? cost), String(lease?.refund ?? 0), String(count));
  args.push(String(Math.floor(clock.nowMs)), clock.use);
  return args;
}

function toInt(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n))
    throw new Error(`token bucket reply: expected an integer, got ${String(value)}`);
  return n;
}

/**
 * Turns the script's integer reply into a typed result. Throws on a malformed reply: that is a bug or a
 * foreign script under our SHA, never user input.
 *
 * @example
 * decodeReply([1, 1700000000000, 0, 9, 0, 200, 1, 1, 0], limits).allowed; // true
 */
export function decodeReply(reply: unknown, limits: readonly LimitSpec[]): BucketResult {
  if (!Array.isArray(reply) || reply.length !== 5 + 4 * limits.length) {
    throw new Error(`token bucket reply: unexpected shape ${JSON.stringify(reply)}`);
  }
  const results: LimitResult[] = limits.map((spec, i) => {
    const at = 2 + 4 * i;
    const retry = toInt(reply[at + 2]);
    return {
      name: spec.name,
      limit: spec.capacity,
      reason: STATUS_REASONS[toInt(reply[at])] ?? null,
      remaining: toInt(reply[at + 1]),
      retryAfterMs: retry < 0 ? null : retry,
      resetMs: toInt(reply[at + 3]),
    };
  });
  const denied = results.filter((l) => l.reason !== null);
  const never = denied.some((l) => l.retryAfterMs === null);
  return {
    allowed: toInt(reply[0]) === 1,
    reason: denied[0]?.reason ?? null,
    deniedBy: denied.map((l) => l.name),
    retryAfterMs: never ? null : Math.max(0, ...denied.map((l) => l.retryAfterMs ?? 0)),
    nowMs: toInt(reply[1]),
    taken: toInt(reply.at(-3)),
    granted: toInt(reply.at(-2)),
    clock: toInt(reply.at(-1)) === 0 ? "store" : "caller",
    limits: results,
  };
}

/**
 * Whether a script call failed only because Redis lost its script cache (restart, SCRIPT FLUSH): the
 * script did not run, so sending it again with EVAL is safe.
 *
 * @example
 * isNoScript(new Error("NOSCRIPT No matching script")); // true
 */
export function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes("NOSCRIPT");
}

/**
 * Runs the bucket for pre-built keys: EVALSHA, and EVAL when Redis lost its script cache (restart, SCRIPT FLUSH).
 * With `lease`, unspent tokens go back first and up to `lease.want` tokens are taken (see the script);
 * with `count`, the call decides that many requests of `cost` in one take; `clock` picks the clock (the
 * store's by default, with the caller's `Date.now()` as the fallback).
 *
 * @example
 * const keys = await bucketKeys("erl", "203.0.113.7", "default", limits.map((l) => l.name));
 * const result = await runTokenBucket(redis, keys, limits, 1);
 * result.clock; // "store"
 */
export async function runTokenBucket(
  runner: ScriptRunner,
  keys: string[],
  limits: readonly LimitSpec[],
  cost: number,
  lease?: LeaseArgs,
  count = 1,
  clock?: ClockArgs,
): Promise<BucketResult> {
  const args = encodeArgs(cost, limits, lease, count, clock);
  const sha1 = await tokenBucketSha1();
  const reply = await runner.evalsha(sha1, keys, args).catch((error: unknown) => {
    if (isNoScript(error)) return runner.eval(TOKEN_BUCKET_LUA, keys, args);
    throw error;
  });
  return decodeReply(reply, limits);
}

/**
 * Takes `cost` tokens from every limit of `policy` for `identity`, or none of them.
 *
 * @example
 * const result = await takeTokens(redis, {
 *   prefix: "erl", identity: "203.0.113.7", policy: "default", cost: 1,
 *   limits: [{ name: "burst", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 }],
 * });
 * if (!result.allowed) console.log(`retry in ${result.retryAfterMs} ms`);
 */
export async function takeTokens(
  runner: ScriptRunner,
  request: {
    prefix: string;
    identity: string;
    policy: string;
    limits: readonly LimitSpec[];
    cost: number;
    /** Default: the store's clock, the caller's `Date.now()` when the store refuses `TIME`. */
    clock?: ClockArgs;
  },
): Promise<BucketResult> {
  const keys = await bucketKeys(
    request.prefix,
    request.identity,
    request.policy,
    request.limits.map((l) => l.name),
  );
  return runTokenBucket(runner, keys, request.limits, request.cost, undefined, 1, request.clock);
}
