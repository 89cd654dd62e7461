/** @module Parsers for single rate-limit fields (IETF RateLimit drafts -08…-11, X-RateLimit-*, Retry-After) into plain values. */
import { type RefillClaim, refillClaim } from "./extension";
import { type BareItem, type ListItem, parseList } from "./structured-fields";

/** An item of `RateLimit-Policy`: the quota `q` per window `w` (seconds). */
export interface PolicyItem {
  name: string;
  quota: number;
  /** `null` when the server sent no usable `w`. */
  windowSeconds: number | null;
  /** The draft's `pk` (base64 text), `null` when absent. */
  partitionKey: string | null;
  /** This project's `erl-refill` extension: `"continuous"` when the server says it refills as a token bucket. */
  refill: RefillClaim;
}

/** An item of `RateLimit`: what is available now and for how long that holds. */
export interface LimitItem {
  name: string;
  remaining: number;
  /** Draft -10 `t` (a later draft's `w`): seconds until the quota is restored; `null` when absent. */
  resetSeconds: number | null;
  partitionKey: string | null;
}

/** The part of `Headers` the parsers use, so plain objects from other HTTP stacks work too. */
export interface HeaderSource {
  get(name: string): string | null;
}

const DIGITS = /^\d{1,15}$/;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ([A-Z][a-z]{2}) (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(
  `^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d{2})-([A-Z][a-z]{2})-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME = new RegExp(`^${DAY} ([A-Z][a-z]{2}) ([ \\d]\\d) ${TIME} (\\d{4})$`);
/** Below this a reset is a delay in seconds, from it on a Unix time in seconds (2001-09-09 onwards). */
const EPOCH_SECONDS_FROM = 1_000_000_000;
/** From this on a reset is a Unix time in milliseconds: as seconds it would be the year 33658. */
const EPOCH_MILLISECONDS_FROM = 1_000_000_000_000;

function itemName(item: ListItem): string | null {
  const v = item.value;
  return v.type === "string" || v.type === "token" ? v.value : null;
}

function nonNegativeInteger(item: BareItem | undefined): number | null {
  return item?.type === "integer" && item.value >= 0 ? item.value : null;
}

function partitionKey(item: ListItem): string | null {
  const pk = item.params.get("pk");
  return pk?.type === "bytes" ? pk.value : null;
}

/**
 * Parses `RateLimit-Policy` (draft -10 and later: `"name";q=10;w=2`, several items comma-separated).
 * An item without a name or a non-negative integer `q` is dropped; a bad `w` becomes `null`.
 *
 * @example
 * parseRateLimitPolicy('"burst";q=10;w=2'); // [{ name: "burst", quota: 10, windowSeconds: 2, partitionKey: null }]
 */
export function parseRateLimitPolicy(value: string | null | undefined): PolicyItem[] {
  const out: PolicyItem[] = [];
  for (const item of parseList(value)) {
    const name = itemName(item);
    const quota = nonNegativeInteger(item.params.get("q"));
    if (name === null || quota === null) continue;
    const w = nonNegativeInteger(item.params.get("w"));
    out.push({
      name,
      quota,
      windowSeconds: w !== null && w > 0 ? w : null,
      partitionKey: partitionKey(item),
      refill: refillClaim(item.params),
    });
  }
  return out;
}

/**
 * Parses `RateLimit`: draft -10 `"name";r=3;t=1`, and the later draft's `name;a=3;w=1` (remaining under
 * `a`, the window under `w`). An item without a usable remaining count is dropped.
 *
 * @example
 * parseRateLimit('"burst";r=3;t=1'); // [{ name: "burst", remaining: 3, resetSeconds: 1, partitionKey: null }]
 * parseRateLimit("burst;a=3;w=1");   // the same
 */
export function parseRateLimit(value: string | null | undefined): LimitItem[] {
  const out: LimitItem[] = [];
  for (const item of parseList(value)) {
    const name = itemName(item);
    const remaining = nonNegativeInteger(item.params.get("r")) ?? nonNegativeInteger(item.params.get("a"));
    if (name === null || remaining === null) continue;
    const resetSeconds = nonNegativeInteger(item.params.get("t")) ?? nonNegativeInteger(item.params.get("w"));
    out.push({ name, remaining, resetSeconds, partitionKey: partitionKey(item) });
  }
  return out;
}

/**
 * Parses `Retry-After` into a delay in ms: delay-seconds, or an HTTP-date relative to `nowMs` (a date in the
 * past means 0). Anything else (negative, fractional, over 15 digits, garbage) is `null`.
 *
 * @example
 * parseRetryAfter("2"); // 2000
 * parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.UTC(2015, 9, 21, 7, 27, 58)); // 2000
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | null {
  const text = value?.trim();
  if (!text) return null;
  if (DIGITS.test(text)) return Number(text) * 1000;
  const at = parseHttpDate(text, nowMs);
  return at === null ? null : Math.max(0, at - nowMs);
}

/**
 * The three HTTP-date forms of RFC 9110 §5.6.7, all GMT. Parsed by hand because `Date.parse` differs
 * between engines and reads asctime as local time.
 */
function parseHttpDate(text: string, nowMs: number): number | null {
  const fields = httpDateFields(text, nowMs);
  if (!fields) return null;
  const { day, month, year, hour, minute, second } = fields;
  const at = Date.UTC(year, month, day, hour, minute, second);
  const check = new Date(at);
  // Date.UTC rolls 31 Feb into March and 25:00 into the next day: a date that doesn't round-trip is invalid.
  const roundTrips =
    check.getUTCDate() === day &&
    check.getUTCHours() === hour &&
    check.getUTCMinutes() === minute &&
    check.getUTCSeconds() === second;
  return roundTrips ? at : null;
}

function httpDateFields(
  text: string,
  nowMs: number,
): { day: number; month: number; year: number; hour: number; minute: number; second: number } | null {
  const imf = IMF_FIXDATE.exec(text);
  const rfc850 = imf ? null : RFC_850.exec(text);
  const asctime = imf || rfc850 ? null : ASCTIME.exec(text);
  let values: (string | undefined)[];
  let year: number;
  if (imf) {
    values = [imf[1], imf[2], imf[4], imf[5], imf[6]];
    year = Number(imf[3]);
  } else if (rfc850) {
    values = [rfc850[1], rfc850[2], rfc850[4], rfc850[5], rfc850[6]];
    // Two-digit years: the most recent matching year not more than 50 years ahead (RFC 9110 §5.6.7).
    year = 2000 + Number(rfc850[3]);
    if (year > new Date(nowMs).getUTCFullYear() + 50) year -= 100;
  } else if (asctime) {
    values = [asctime[2], asctime[1], asctime[3], asctime[4], asctime[5]];
    year = Number(asctime[6]);
  } else {
    return null;
  }
  const [day, monthName, hour, minute, second] = values;
  const month = MONTHS.indexOf(monthName ?? "");
  if (month < 0) return null;
  return {
    day: Number(day?.trim()),
    month,
    year,
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second),
  };
}

/**
 * A reset value in ms from `nowMs`, told apart by magnitude: below 10^9 a delay in seconds (fractions allowed),
 * below 10^12 a Unix time in seconds (GitHub, express-rate-limit, this project's edge), from 10^12 on a Unix
 * time in milliseconds. A time in the past is 0; anything that is not a plain number is `null`.
 *
 * @example
 * parseReset("30");            // 30000
 * parseReset("1700000030", 1_700_000_000_000);    // 30000
 * parseReset("1700000030000", 1_700_000_000_000); // 30000
 */
export function parseReset(value: string | null | undefined, nowMs: number = Date.now()): number | null {
  const text = value?.trim() ?? "";
  if (!/^\d{1,15}(\.\d{1,6})?$/.test(text)) return null;
  const n = Number(text);
  if (n >= EPOCH_MILLISECONDS_FROM) return Math.max(0, Math.round(n - nowMs));
  if (n >= EPOCH_SECONDS_FROM) return Math.max(0, Math.round(n * 1000 - nowMs));
  return Math.round(n * 1000);
}

/** `X-RateLimit-*` as read: GitHub's `-Used` and `-Resource` included when present. */
export interface XRateLimit {
  limit: number | null;
  remaining: number;
  resetMs: number | null;
  /** GitHub's `x-ratelimit-used`, `null` when absent. */
  used: number | null;
  /** GitHub's `x-ratelimit-resource` (`core`, `search`…), `null` when absent. */
  resource: string | null;
}

/**
 * Parses the de-facto `X-RateLimit-Limit` / `-Remaining` / `-Reset` trio, and GitHub's `-Used` / `-Resource`.
 * `Reset` is read by {@link parseReset}'s magnitude rule. Needs a valid `Remaining`, or `Limit` and `Used`
 * (then remaining = limit − used).
 *
 * @example
 * parseXRateLimit(new Headers({ "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30" }));
 * // { limit: null, remaining: 0, resetMs: 30000, used: null, resource: null }
 */
export function parseXRateLimit(headers: HeaderSource, nowMs: number = Date.now()): XRateLimit | null {
  const int = (name: string) => {
    const text = headers.get(name)?.trim();
    return text && DIGITS.test(text) ? Number(text) : null;
  };
  const limit = int("X-RateLimit-Limit");
  const used = int("X-RateLimit-Used");
  const remaining =
    int("X-RateLimit-Remaining") ?? (limit !== null && used !== null ? Math.max(0, limit - used) : null);
  if (remaining === null) return null;
  const resource = headers.get("X-RateLimit-Resource")?.trim() || null;
  return { limit, remaining, resetMs: parseReset(headers.get("X-RateLimit-Reset"), nowMs), used, resource };
}
