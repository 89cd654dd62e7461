/** @module Reads this project's `erl-refill` extension parameter: the only evidence the client accepts that a quota refills continuously. */
import type { BareItem } from "./structured-fields";

/**
 * The `RateLimit-Policy` parameter by which this project's edge says its quota refills continuously (an
 * extension the drafts allow). Defined here, where the client must stand alone; the edge imports it.
 */
export const REFILL_PARAMETER = { key: "erl-refill", continuous: "continuous" } as const;

/** How a server says its quota comes back: `continuous` (a token bucket), or `null` when it says nothing. */
export type RefillClaim = "continuous" | null;

/**
 * The refill a `RateLimit-Policy` item claims through `erl-refill` (token or string). The drafts promise only
 * that `r` requests may go now and that the quota is back after `t`; pacing at q/w in between needs the
 * server to say it refills continuously, which this project's edge does and no other server is assumed to.
 * Any other value, or none, is `null`.
 *
 * @example
 * refillClaim(parseList('"burst";q=10;w=2;erl-refill=continuous')[0]?.params); // "continuous"
 * refillClaim(parseList('"burst";q=10;w=2')[0]?.params);                        // null
 */
export function refillClaim(params: ReadonlyMap<string, BareItem> | undefined): RefillClaim {
  const value = params?.get(REFILL_PARAMETER.key);
  if (value?.type !== "token" && value?.type !== "string") return null;
  return value.value.toLowerCase() === REFILL_PARAMETER.continuous ? "continuous" : null;
}
