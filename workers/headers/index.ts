/** @module Rate-limit response headers: names, formats (IETF draft -11, syntax as -10; X-RateLimit-*; Retry-After) in one place. */
import type { LimitResult, LimitSpec } from "../../lua";
import type { Decision } from "../limiter/types";

/** Every header this service adds; CORS exposes exactly these so browsers can read them on 200 and 429. */
export const RATE_LIMIT_HEADERS = [
  "RateLimit-Policy",
  "RateLimit",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "X-RateLimit-Reason",
  "Retry-After",
  "X-Served-By",
] as const;

/** Seconds, rounded up: a client that waits this long is never early. */
export function ceilSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** Seconds a limit takes to refill from empty: the draft's window `w` for a token bucket. */
function windowSeconds(limit: LimitSpec): number {
  return Math.max(1, ceilSeconds((limit.capacity * limit.refillIntervalMs) / limit.refillTokens));
}

import { REFILL_PARAMETER } from "../../client/extension";

export { REFILL_PARAMETER };

/**
 * `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-11, unchanged since -10): one item per limit, quota
 * `q` and window `w` in seconds, plus {@link REFILL_PARAMETER}.
 *
 * @example
 * formatPolicyHeader([{ name: "burst", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 }]);
 * // '"burst";q=10;w=2;erl-refill=continuous'
 */
export function formatPolicyHeader(limits: readonly LimitSpec[]): string {
  const refill = `${REFILL_PARAMETER.key}=${REFILL_PARAMETER.continuous}`;
  return limits.map((l) => `"${l.name}";q=${l.capacity};w=${windowSeconds(l)};${refill}`).join(", ");
}

/**
 * `RateLimit` (draft -11, unchanged since -10): one item per limit, remaining `r` and seconds until full `t`.
 *
 * @example
 * formatRateLimitHeader([{ name: "burst", remaining: 3, resetMs: 1400 } as LimitResult]); // '"burst";r=3;t=2'
 */
export function formatRateLimitHeader(limits: readonly LimitResult[]): string {
  // Concatenation, not map/join: this runs on every limited request.
  let text = "";
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i] as LimitResult;
    text += `${i ? ", " : ""}"${l.name}";r=${l.remaining};t=${ceilSeconds(l.resetMs)}`;
  }
  return text;
}

/**
 * The limit a single-valued header (X-RateLimit-*, the check API's top level) reports: the first one that
 * denied, otherwise the one with the fewest tokens left.
 *
 * @example
 * bindingLimit(result.limits)?.name; // "day"
 */
export function bindingLimit(limits: readonly LimitResult[]): LimitResult | undefined {
  let binding: LimitResult | undefined;
  for (const l of limits) {
    if (l.reason !== null) return l;
    if (!binding || l.remaining < binding.remaining) binding = l;
  }
  return binding;
}

/** Seconds a client must wait after this decision, or `null` when waiting can't help. */
export function retryAfterSeconds(decision: Decision): number | null {
  if (decision.allowed) return null;
  if (!decision.result) return 1;
  const ms = decision.result.retryAfterMs;
  return ms === null ? null : Math.max(1, ceilSeconds(ms));
}

// A policy's limits never change once compiled: format its RateLimit-Policy once, not per request.
const policyHeaders = new WeakMap<readonly LimitSpec[], string>();

function policyHeader(limits: readonly LimitSpec[]): string {
  let text = policyHeaders.get(limits);
  if (text === undefined) {
    text = formatPolicyHeader(limits);
    policyHeaders.set(limits, text);
  }
  return text;
}

/** Header fields by name, as a plain object: built in one go, handed to `new Response` or set one by one. */
export type HeaderFields = Record<string, string>;

/**
 * All rate-limit headers for a decision, as a plain object (added to `into` when given). Cheaper than a
 * `Headers` on the hot path: every `Headers` call crosses into the runtime, while a `Response` built
 * with an object takes all its fields at once. The fields are added in one order, so every object has
 * the same shape.
 *
 * @example
 * new Response(body, { status: 429, headers: decisionHeaderFields(decision, { "Content-Type": "application/problem+json" }) });
 */
export function decisionHeaderFields(decision: Decision, into: HeaderFields = {}): HeaderFields {
  into["X-RateLimit-Reason"] = decision.shadowed ? `shadow:${decision.reason}` : decision.reason;
  into["RateLimit-Policy"] = policyHeader(decision.policy.limits);
  const result = decision.result;
  if (result) {
    into.RateLimit = formatRateLimitHeader(result.limits);
    const binding = bindingLimit(result.limits);
    if (binding) {
      into["X-RateLimit-Limit"] = `${binding.limit}`;
      into["X-RateLimit-Remaining"] = `${binding.remaining}`;
      into["X-RateLimit-Reset"] = `${ceilSeconds(result.nowMs + binding.resetMs)}`;
    }
  }
  const retry = retryAfterSeconds(decision);
  if (retry !== null) into["Retry-After"] = `${retry}`;
  return into;
}

/**
 * All rate-limit headers for a decision.
 *
 * @example
 * const headers = decisionHeaders(decision);
 * headers.get("RateLimit"); // '"burst";r=9;t=1'
 */
export function decisionHeaders(decision: Decision): Headers {
  return new Headers(decisionHeaderFields(decision));
}

/**
 * Adds `fields` to a response's headers: in place when they are mutable (a response the app built), else
 * on a copy (a `fetch` answer's headers are immutable).
 *
 * @example
 * return withHeaders(await fetch(upstream), decisionHeaderFields(decision));
 */
export function withHeaders(response: Response, fields: HeaderFields): Response {
  const headers = response.headers;
  try {
    for (const name in fields) headers.set(name, fields[name] as string);
    return response;
  } catch {
    // Immutable headers throw on the first set, before anything changed.
    const copy = new Response(response.body, response);
    for (const name in fields) copy.headers.set(name, fields[name] as string);
    return copy;
  }
}
