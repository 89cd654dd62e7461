/** @module The policies document's rules (valibot leaves, see rules.ts): the single source of its checks and defaults. */
import * as v from "valibot";
import { KEY_NAME_PATTERN } from "../../lua/keys";
import type {
  KeySource,
  LocalShare,
  ValidatedLimit,
  ValidatedPoliciesDocument,
  ValidatedPolicy,
  ValidatedRoute,
} from "./document";
import { checkRefill, MAX_REFILL_TOKENS, REFILL_SYNTAX, type RefillRate } from "./refill";
import {
  INVALID,
  type Invalid,
  type Issue,
  integer,
  leaf,
  list,
  optional,
  type Rule,
  record,
  strictObject,
} from "./rules";

export type {
  KeySource,
  LimitDocument,
  LocalShare,
  LocalShareDocument,
  PoliciesDocument,
  PolicyDocument,
  RouteDocument,
  ValidatedLimit,
  ValidatedPoliciesDocument,
  ValidatedPolicy,
  ValidatedRoute,
} from "./document";

export const MAX_LIMITS = 8;
export const MAX_CAPACITY = MAX_REFILL_TOKENS;
export const MAX_COST = 1_000_000;
export const MAX_TIMEOUT_MS = 10_000;
export const MAX_WAIT_MS = 60_000;
/** How long the store may answer nothing at all before it counts as unavailable (see docs/configuration.md). */
export const DEFAULT_TIMEOUT_MS = 1000;
/** The ceiling on one decision's wait while the store is busy but answering. */
export const DEFAULT_MAX_WAIT_MS = 5000;

// Reasons read as the continuation of `<path>: <value> …` (see errors.ts).
const NAME_REASON = 'is not a valid name (1 to 64 characters: letters, digits, "_", "." or "-")';
const KEY_REASON =
  'is not a key source (expected "ip" or "header:<name>" with an HTTP header name, e.g. "header:x-api-key")';
const PATH_REASON =
  'is not a route path (expected "/" followed by the path, "*" matching any characters, e.g. "/api/*"; no spaces, query or fragment)';
const METHOD_REASON = 'is not an uppercase HTTP method (e.g. "GET")';
const ORIGINS_REASON = 'is not "*" or a list of origins';
const ORIGIN_REASON =
  'is not an origin (expected "*" or "<scheme>://<host>[:<port>]" in lowercase with no path, e.g. "https://app.example.com")';
const OBJECT_REASON = "is not an object";

// RFC 9110 `token`: the characters a header name (and a method) may use.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Z]{1,32}$/;
const ROUTE_PATH = /^\/[^\s?#]{0,2047}$/;

// Not text at all aborts; text that doesn't match still flows on (two equal misspelt names are still duplicates).
function text(pattern: RegExp, reason: string): Rule<string> {
  const isText = leaf(v.string(), reason);
  const matches = leaf(v.pipe(v.string(), v.regex(pattern)), reason, false);
  return (input, at, issues) =>
    isText(input, at, []) === INVALID ? isText(input, at, issues) : matches(input, at, issues);
}

function choice<const T extends string>(options: readonly [T, T], fallback: T): Rule<T> {
  return optional(leaf(v.picklist(options), `is not "${options[0]}" or "${options[1]}"`), fallback);
}

/**
 * Parses `"ip"` or `"header:<name>"`; header names are case-insensitive, so they are stored lowercase to
 * match `Headers.get` semantics and compare equal however they were written.
 */
function keySource(input: unknown, at: PropertyKey[], issues: Issue[]): KeySource | typeof INVALID {
  if (input === "ip") return { kind: "ip" };
  const header =
    typeof input === "string" && input.startsWith("header:") ? input.slice("header:".length) : "";
  if (HEADER_NAME.test(header)) return { kind: "header", name: header.toLowerCase() };
  issues.push({ path: at, message: KEY_REASON, kind: "value", abort: true });
  return INVALID;
}

function refill(input: unknown, at: PropertyKey[], issues: Issue[]): RefillRate | typeof INVALID {
  const checked = typeof input === "string" ? checkRefill(input) : { reason: REFILL_SYNTAX };
  if ("rate" in checked) return checked.rate;
  issues.push({ path: at, message: checked.reason, kind: "value", abort: true });
  return INVALID;
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    // `origin` is "null" for opaque schemes, and normalises case and default ports: demand the exact form.
    return url.origin !== "null" && url.origin === text;
  } catch {
    return false;
  }
}

function checkExactness(limit: Partial<ValidatedLimit>, at: PropertyKey[], issues: Issue[]): void {
  if (limit.capacity === undefined || limit.refill === undefined) return;
  // The Lua script keeps `capacity * intervalMs` units as an exact integer; beyond 2^53 doubles round.
  if (limit.capacity * limit.refill.intervalMs <= Number.MAX_SAFE_INTEGER) return;
  issues.push({
    path: [...at, "capacity"],
    kind: "value",
    abort: false,
    message:
      `× refill interval ${limit.refill.intervalMs} ms exceeds Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}): ` +
      "the Lua script stores tokens scaled by the interval as exact integers; lower the capacity or shorten the refill period",
  });
}

function checkUniqueNames(limits: (ValidatedLimit | Invalid)[], at: PropertyKey[], issues: Issue[]): void {
  const seen = new Map<string, number>();
  limits.forEach((limit, i) => {
    if (limit === INVALID) return;
    const name = limit.name;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else
      issues.push({
        path: [...at, i, "name"],
        kind: "value",
        abort: false,
        message: `is also the name of limits[${first}] (limit names must be unique within a policy)`,
      });
  });
}

function checkWaits(policy: Partial<ValidatedPolicy>, at: PropertyKey[], issues: Issue[]): void {
  if (policy.maxWaitMs === undefined || policy.timeoutMs === undefined) return;
  if (policy.maxWaitMs >= policy.timeoutMs) return;
  issues.push({
    path: [...at, "maxWaitMs"],
    kind: "value",
    abort: false,
    message: `is less than timeoutMs (${policy.timeoutMs}): the ceiling on a busy store's wait must be at least the silence that counts as unavailable`,
  });
}

const LOCAL_SHARE_REASON =
  'is not a local share (expected a fraction of each limit, 0 < x <= 1, as a number or {"fraction": x}, or {"tokens": n} with a whole number of tokens per isolate, 1 to ' +
  `${MAX_CAPACITY})`;

/** `0.1`, `{"fraction": 0.1}` or `{"tokens": 5}`: what one isolate may admit alone while the store is away. */
function localShare(input: unknown, at: PropertyKey[], issues: Issue[]): LocalShare | typeof INVALID {
  const fraction =
    typeof input === "number"
      ? input
      : typeof input === "object" && input !== null && Object.keys(input).join() === "fraction"
        ? (input as { fraction: unknown }).fraction
        : undefined;
  if (typeof fraction === "number" && Number.isFinite(fraction) && fraction > 0 && fraction <= 1)
    return { kind: "fraction", fraction };
  const tokens =
    typeof input === "object" && input !== null && Object.keys(input).join() === "tokens"
      ? (input as { tokens: unknown }).tokens
      : undefined;
  if (typeof tokens === "number" && Number.isInteger(tokens) && tokens >= 1 && tokens <= MAX_CAPACITY)
    return { kind: "tokens", tokens };
  issues.push({ path: at, message: LOCAL_SHARE_REASON, kind: "value", abort: true });
  return INVALID;
}

/** `onError: "local"` needs its share, and a share means nothing under another fail mode. */
function checkLocalShare(policy: Partial<ValidatedPolicy>, at: PropertyKey[], issues: Issue[]): void {
  if (policy.onError === undefined) return;
  if (policy.onError === "local" && policy.localShare === undefined)
    issues.push({
      path: [...at, "onError"],
      kind: "value",
      abort: false,
      message:
        'needs "localShare" (e.g. 0.1, or {"tokens": 5}): what each isolate may admit alone while the store is unavailable',
    });
  if (policy.onError !== "local" && policy.localShare !== undefined)
    issues.push({
      path: [...at, "localShare"],
      kind: "value",
      abort: false,
      message: `applies only with onError "local" (onError is "${policy.onError}")`,
    });
}

function checkMix(list: ("*" | string | Invalid)[], at: PropertyKey[], issues: Issue[]): void {
  if (!list.includes("*") || list.length === 1) return;
  issues.push({
    path: at,
    message: 'mixes "*" with other origins (use "*" alone to allow every origin)',
    kind: "value",
    abort: false,
  });
}

function origins(input: unknown, at: PropertyKey[], issues: Issue[]): "*" | string[] | Invalid {
  if (input === "*") return "*";
  if (!Array.isArray(input)) {
    issues.push({ path: at, message: ORIGINS_REASON, kind: "value", abort: true });
    return INVALID;
  }
  const isText = leaf(v.string(), ORIGIN_REASON);
  const isOriginText = leaf(
    v.pipe(
      v.string(),
      v.check((t) => t === "*" || isOrigin(t)),
    ),
    ORIGIN_REASON,
    false,
  );
  const origin: Rule<string> = (entry, path, found) =>
    isText(entry, path, []) === INVALID ? isText(entry, path, found) : isOriginText(entry, path, found);
  return list(origin, ORIGINS_REASON, null, checkMix)(input, at, issues);
}

function checkReferences(doc: Partial<ValidatedPoliciesDocument>, _at: PropertyKey[], issues: Issue[]): void {
  const defined = doc.policies ? Object.keys(doc.policies) : [];
  // With no policies at all, "must define at least one policy" already says it; one error per route is noise.
  if (defined.length === 0) return;
  (doc.routes ?? []).forEach((route, i) => {
    if (Object.hasOwn(doc.policies ?? {}, route.policy)) return;
    issues.push({
      path: ["routes", i, "policy"],
      kind: "value",
      abort: false,
      message: `is not a defined policy (defined: ${defined.map((n) => JSON.stringify(n)).join(", ")})`,
    });
  });
}

function documentRule(): Rule<ValidatedPoliciesDocument> {
  const name = text(KEY_NAME_PATTERN, NAME_REASON);
  const limit = strictObject<ValidatedLimit>(
    { name, capacity: integer(1, MAX_CAPACITY, `is not an integer from 1 to ${MAX_CAPACITY}`), refill },
    OBJECT_REASON,
    checkExactness,
  );
  const timeout = `is not an integer from 1 to ${MAX_TIMEOUT_MS}`;
  const policy = strictObject<ValidatedPolicy>(
    {
      limits: list(
        limit,
        "is not a list of limits",
        { min: 1, max: MAX_LIMITS, lengthReason: `must list 1 to ${MAX_LIMITS} limits` },
        checkUniqueNames,
      ),
      onError: optional(
        leaf(v.picklist(["open", "closed", "local"]), 'is not "open", "closed" or "local"'),
        "open",
      ),
      localShare: optional(localShare),
      clock: choice(["store", "caller"], "store"),
      mode: choice(["enforce", "shadow"], "enforce"),
      timeoutMs: optional(integer(1, MAX_TIMEOUT_MS, timeout), DEFAULT_TIMEOUT_MS),
      maxWaitMs: optional(integer(1, MAX_WAIT_MS, `is not an integer from 1 to ${MAX_WAIT_MS}`)),
      lease: choice(["auto", "off"], "auto"),
    },
    OBJECT_REASON,
    function checkPolicy(value, at, issues) {
      checkWaits(value, at, issues);
      checkLocalShare(value, at, issues);
    },
  );
  const route = strictObject<ValidatedRoute>(
    {
      path: text(ROUTE_PATH, PATH_REASON),
      methods: optional(
        list(text(METHOD, METHOD_REASON), "is not a list of HTTP methods", {
          min: 1,
          lengthReason: "must list at least one method (omit the field to match every method)",
        }),
      ),
      policy: leaf(v.string(), "is not a policy name"),
      key: keySource,
      fallback: optional(keySource),
      cost: optional(integer(0, MAX_COST, `is not an integer from 0 to ${MAX_COST}`), 1),
    },
    OBJECT_REASON,
  );
  const policies = record(name, policy, "is not an object of named policies");
  return strictObject<ValidatedPoliciesDocument>(
    {
      prefix: optional(name, "erl"),
      policies: function nonEmpty(input, at, issues) {
        const out = policies(input, at, issues);
        if (out === INVALID || Object.keys(out).length > 0) return out;
        issues.push({ path: at, message: "must define at least one policy", kind: "value", abort: false });
        return out;
      },
      routes: list(route, "is not a list of routes", null),
      cors: optional(strictObject<{ origins: "*" | string[] }>({ origins }, OBJECT_REASON)),
    },
    OBJECT_REASON,
    checkReferences,
  );
}

let rule: Rule<ValidatedPoliciesDocument> | undefined;

/**
 * Validates a policies document; the rules are built on first use, so importing costs nothing.
 *
 * @example
 * const checked = validateDocument(JSON.parse(text));
 * if (!checked.ok) console.error(checked.issues.length);
 */
export function validateDocument(
  input: unknown,
): { ok: true; value: ValidatedPoliciesDocument } | { ok: false; issues: Issue[] } {
  rule ??= documentRule();
  const issues: Issue[] = [];
  const value = rule(input, [], issues);
  return value === INVALID || issues.length > 0 ? { ok: false, issues } : { ok: true, value };
}
