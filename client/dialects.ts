/** @module Reads every rate-limit dialect in use (IETF drafts -03…-11, X-RateLimit-*, GitHub, Retry-After) into one model, with one precedence. */
import { type RefillClaim, refillClaim } from "./extension";
import {
  type HeaderSource,
  type PolicyItem,
  parseRateLimit,
  parseRateLimitPolicy,
  parseReset,
  parseRetryAfter,
  parseXRateLimit,
} from "./headers";
import { type ListItem, parseDictionary, parseList } from "./structured-fields";

/**
 * The header families the client reads, named by the draft that defined them last:
 * - `draft-11`: `RateLimit` / `RateLimit-Policy` items, `"burst";r=3;t=1` and `"burst";q=10;w=2` (drafts -08…-11);
 * - `draft-07`: the combined dictionary `RateLimit: limit=10, remaining=9, reset=2`;
 * - `draft-06`: separate `RateLimit-Limit`, `-Remaining`, `-Reset` (drafts -03…-06), with or without `RateLimit-Policy`;
 * - `github`: `X-RateLimit-*` with GitHub's `-Used` or `-Resource`;
 * - `x-ratelimit`: the de-facto `X-RateLimit-Limit`, `-Remaining`, `-Reset`;
 * - `retry-after`: nothing but `Retry-After`.
 */
export type Dialect = "draft-11" | "draft-07" | "draft-06" | "github" | "x-ratelimit" | "retry-after";

/** One limit as the pacer sees it, whichever dialect described it. */
export interface LimitState {
  /** Matching key: policy names compare case-insensitively (later drafts say so). */
  key: string;
  name: string;
  remaining: number;
  /** Milliseconds until the quota is back (window reset / bucket full); `null` when unknown. */
  resetMs: number | null;
  /** The quota: `q` of the matching policy, or the dialect's limit field. */
  quota: number | null;
  /** The policy's window `w` in ms, `null` when not sent. */
  windowMs: number | null;
  /** The server's word on how the quota comes back (`erl-refill`); `null`: only `t` is promised. */
  refill: RefillClaim;
  source: Dialect;
}

/** Everything a response said about rate limits; empty `limits` and `null` retry when it said nothing usable. */
export interface RateLimitInfo {
  limits: LimitState[];
  /** `Retry-After` as a delay in ms from when the headers were read. */
  retryAfterMs: number | null;
  /** The dialect the limits came from (`retry-after` when only that was there), `null` when none. */
  dialect: Dialect | null;
}

/** A policy without a name (drafts -03…-07): a quota and its window, e.g. `10;w=2`. */
interface UnnamedPolicy {
  quota: number;
  windowSeconds: number | null;
  refill: RefillClaim;
}

/** The name the unnamed dialects' single limit gets, in events and in the pacer's state. */
const UNNAMED = "ratelimit";

function integerOf(item: ListItem | undefined): number | null {
  const v = item?.value;
  return v?.type === "integer" && v.value >= 0 ? v.value : null;
}

function positiveParam(item: ListItem, key: string): number | null {
  const v = item.params.get(key);
  return v?.type === "integer" && v.value > 0 ? v.value : null;
}

/** Unnamed quota policies (`10;w=2, 1000;w=86400`) from any of `values`, in order. */
function unnamedPolicies(...values: (string | null)[]): UnnamedPolicy[] {
  return values.flatMap((value) =>
    parseList(value).flatMap((item) => {
      const quota = integerOf(item);
      const w = positiveParam(item, "w");
      return quota === null || w === null
        ? []
        : [{ quota, windowSeconds: w, refill: refillClaim(item.params) }];
    }),
  );
}

/** The policy that describes a limit of `quota`: the one with the same quota, else the first. */
function policyFor(quota: number | null, policies: UnnamedPolicy[]): UnnamedPolicy | undefined {
  return policies.find((p) => p.quota === quota) ?? policies[0];
}

function matchPolicy(policies: PolicyItem[], name: string, pk: string | null): PolicyItem | undefined {
  const named = policies.filter((p) => p.name.toLowerCase() === name.toLowerCase());
  // A partition key on both sides must agree; one on the policy alone (express-rate-limit) doesn't stop a match.
  return (
    (pk === null ? undefined : named.find((p) => p.partitionKey === pk)) ??
    named.find((p) => p.partitionKey === null) ??
    named[0]
  );
}

/** Drafts -08…-11: `RateLimit` items joined to `RateLimit-Policy` items by name. */
function readDraft11(headers: HeaderSource): LimitState[] {
  const policies = parseRateLimitPolicy(headers.get("RateLimit-Policy"));
  const limits: LimitState[] = [];
  const seen = new Set<string>();
  for (const item of parseRateLimit(headers.get("RateLimit"))) {
    const key = `${item.name.toLowerCase()}\u0000${item.partitionKey ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const policy = matchPolicy(policies, item.name, item.partitionKey);
    limits.push({
      key,
      name: item.name,
      remaining: item.remaining,
      resetMs: item.resetSeconds === null ? null : item.resetSeconds * 1000,
      quota: policy?.quota ?? null,
      windowMs: policy?.windowSeconds ? policy.windowSeconds * 1000 : null,
      refill: policy?.refill ?? null,
      source: "draft-11",
    });
  }
  return limits;
}

function unnamedLimit(
  source: Dialect,
  remaining: number,
  quota: number | null,
  resetMs: number | null,
  policy: UnnamedPolicy | undefined,
): LimitState {
  return {
    key: `${UNNAMED}\u0000`,
    name: UNNAMED,
    remaining,
    resetMs,
    quota: quota ?? policy?.quota ?? null,
    windowMs: policy?.windowSeconds ? policy.windowSeconds * 1000 : null,
    refill: policy?.refill ?? null,
    source,
  };
}

/** Draft -07: `RateLimit: limit=10, remaining=9, reset=2` with `RateLimit-Policy: 10;w=2`. */
function readDraft07(headers: HeaderSource): LimitState[] {
  const dict = parseDictionary(headers.get("RateLimit"));
  const remaining = integerOf(dict.get("remaining"));
  if (remaining === null) return [];
  const quota = integerOf(dict.get("limit"));
  const reset = integerOf(dict.get("reset"));
  const policy = policyFor(quota, unnamedPolicies(headers.get("RateLimit-Policy")));
  return [unnamedLimit("draft-07", remaining, quota, reset === null ? null : reset * 1000, policy)];
}

/**
 * Drafts -03…-06: separate `RateLimit-Limit` (-03…-05 may list quota policies after the limit:
 * `10, 10;w=2`), `RateLimit-Remaining` and `RateLimit-Reset` (delay-seconds; read leniently by magnitude).
 */
function readDraft06(headers: HeaderSource, nowMs: number): LimitState[] {
  const remaining = integerOf(parseList(headers.get("RateLimit-Remaining"))[0]);
  if (remaining === null) return [];
  const limitField = headers.get("RateLimit-Limit");
  const quota = integerOf(parseList(limitField)[0]);
  const policy = policyFor(quota, unnamedPolicies(headers.get("RateLimit-Policy"), limitField));
  const resetMs = parseReset(headers.get("RateLimit-Reset"), nowMs);
  return [unnamedLimit("draft-06", remaining, quota, resetMs, policy)];
}

/** `X-RateLimit-*`, GitHub's flavour when `-Used` or `-Resource` is there (then the resource names the limit). */
function readXRateLimit(headers: HeaderSource, nowMs: number): LimitState[] {
  const x = parseXRateLimit(headers, nowMs);
  if (!x) return [];
  const github = x.used !== null || x.resource !== null;
  const name = x.resource ?? "x-ratelimit";
  return [
    {
      key: `${name.toLowerCase()}\u0000`,
      name,
      remaining: x.remaining,
      resetMs: x.resetMs,
      quota: x.limit,
      windowMs: null,
      refill: null,
      source: github ? "github" : "x-ratelimit",
    },
  ];
}

/**
 * The order in which dialects are tried; the first that yields a usable limit is the only one used, since a
 * server sending several describes the same limits several times. The newest draft wins because it alone
 * names its limits and can describe more than one.
 */
export const DIALECT_PRECEDENCE = ["draft-11", "draft-07", "draft-06", "github", "x-ratelimit"] as const;

const READERS: Record<(typeof DIALECT_PRECEDENCE)[number], (h: HeaderSource, now: number) => LimitState[]> = {
  "draft-11": readDraft11,
  "draft-07": readDraft07,
  "draft-06": readDraft06,
  github: readXRateLimit,
  "x-ratelimit": readXRateLimit,
};

/**
 * Everything a response says about rate limits, from the first dialect in {@link DIALECT_PRECEDENCE} that has
 * a usable limit, plus `Retry-After` (delay-seconds or HTTP-date), which any dialect may carry.
 *
 * @example
 * const info = readRateLimitInfo(new Headers({ "RateLimit-Policy": "10;w=2", "RateLimit-Limit": "10",
 *   "RateLimit-Remaining": "9", "RateLimit-Reset": "2" }));
 * info.dialect;   // "draft-06"
 * info.limits[0]; // { name: "ratelimit", remaining: 9, resetMs: 2000, quota: 10, windowMs: 2000, refill: null, ... }
 */
export function readRateLimitInfo(headers: HeaderSource, nowMs: number = Date.now()): RateLimitInfo {
  const retryAfterMs = parseRetryAfter(headers.get("Retry-After"), nowMs);
  for (const dialect of DIALECT_PRECEDENCE) {
    const limits = READERS[dialect](headers, nowMs);
    if (limits.length > 0) return { limits, retryAfterMs, dialect: (limits[0] as LimitState).source };
  }
  return { limits: [], retryAfterMs, dialect: retryAfterMs === null ? null : "retry-after" };
}
