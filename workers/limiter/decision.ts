/** @module How a decision is written down: from the store's answer, a lease, the denied cache, or the fail mode. */
import type { BucketResult } from "../../lua";
import type { CompiledPolicy } from "../policies";
import type { Decision, DecisionReason } from "./types";

/**
 * A decision from the bucket's answer (the store's, or the denied cache's memory of it). A `shadow` policy
 * lets a denied request through and says so.
 *
 * @example
 * fromBucket(policy, 1, result, false).allowed;
 */
export function fromBucket(
  policy: CompiledPolicy,
  cost: number,
  result: BucketResult,
  cached: boolean,
): Decision {
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
 * Admitted from the isolate's lease: a token the store already debited, no call.
 *
 * @example
 * fromLease(policy, 1, leases.view(entry, Date.now()));
 */
export function fromLease(policy: CompiledPolicy, cost: number, result: BucketResult | null): Decision {
  return { allowed: true, reason: "allowed", source: "lease", shadowed: false, policy, cost, result };
}

/**
 * The policy's `onError` decides: the store failed this call, or the open breaker (`breaker`) kept the
 * decision from asking at all.
 *
 * @example
 * byFailMode(policy, 1, "redis_unavailable", true); // { allowed: policy.onError === "open", source: "breaker", … }
 */
export function byFailMode(
  policy: CompiledPolicy,
  cost: number,
  reason: DecisionReason,
  breaker: boolean,
): Decision {
  const open = policy.onError === "open";
  const source = breaker ? "breaker" : open ? "fail_open" : "fail_closed";
  return { allowed: open, reason, source, shadowed: false, policy, cost, result: null };
}

/**
 * `onError: "local"`: the isolate's local share decided while the store could not (`reason` says why);
 * `result` is the local bucket's answer, so a denial carries `Retry-After` like any other.
 *
 * @example
 * fromLocalShare(policy, 1, shares.take(policy, key, 1, Date.now()), "redis_unavailable");
 */
export function fromLocalShare(
  policy: CompiledPolicy,
  cost: number,
  result: BucketResult,
  reason: DecisionReason,
): Decision {
  return { allowed: result.allowed, reason, source: "fail_local", shadowed: false, policy, cost, result };
}
