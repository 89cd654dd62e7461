/** @module Compiles a validated policies document into lookup-ready policies and routes, and matches routes. */
import type { LimitSpec } from "../../lua/index";
import {
  DEFAULT_MAX_WAIT_MS,
  type KeySource,
  type ValidatedPoliciesDocument,
  type ValidatedPolicy,
  type ValidatedRoute,
} from "./schema";

/** A policy ready for the limiter: its limits in the form the token-bucket script takes. */
export interface CompiledPolicy {
  name: string;
  limits: LimitSpec[];
  onError: ValidatedPolicy["onError"];
  mode: ValidatedPolicy["mode"];
  /** Silence from the store (no answer to anything in the isolate) that counts as unavailable. */
  timeoutMs: number;
  /** The longest one decision waits for a store that is busy but answering. */
  maxWaitMs: number;
  /** `auto`: hot keys spend leased tokens inside the isolate (see docs/configuration.md). */
  lease: ValidatedPolicy["lease"];
  /** With `onError: "local"`: what one isolate may admit alone while the store is unavailable. */
  localShare: ValidatedPolicy["localShare"];
  /** The clock the bucket prefers (see `BucketClock`). */
  clock: ValidatedPolicy["clock"];
}

/** A route: which requests it covers, the policy that limits them and where their identity comes from. */
export interface CompiledRoute {
  /** The pattern as written in the document. */
  path: string;
  /** Uppercase methods as written; `null` matches every method. */
  methods: string[] | null;
  policy: CompiledPolicy;
  key: KeySource;
  /** Used when `key` yields no identity (its header is missing); `null` means such requests are rejected. */
  fallback: KeySource | null;
  cost: number;
  /** Whether a request with this method and URL pathname falls under the route. */
  matches(method: string, pathname: string): boolean;
}

/** CORS settings: `"*"` allows every origin, a list allows exactly those, an empty list none. */
export interface CompiledCors {
  origins: "*" | string[];
}

/** The whole document, compiled. `routes` keep document order: the first match wins. */
export interface CompiledPolicies {
  prefix: string;
  policies: Map<string, CompiledPolicy>;
  routes: CompiledRoute[];
  cors: CompiledCors;
}

// Escapes of RFC 3986 unreserved characters mean the same path ("/%61pi" is "/api"), so a client can't
// dodge a route by encoding a letter. Other escapes ("%2F") stay as sent: decoding them changes meaning.
const UNRESERVED_ESCAPE = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;
const REPEATED_SLASHES = /\/{2,}/g;

/**
 * The form paths are compared in: unreserved percent-escapes decoded, runs of "/" merged (as NGINX and most
 * servers do), so equivalent spellings of a path hit the same route.
 *
 * @example
 * normalizePathname("//%61pi///keys"); // "/api/keys"
 */
export function normalizePathname(pathname: string): string {
  return pathname
    .replace(UNRESERVED_ESCAPE, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(REPEATED_SLASHES, "/");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A route path as a regular expression over normalised pathnames: `*` matches any characters, "/"
 * included, and a trailing `/*` also matches the bare prefix, so "/api/*" covers "/api" as well as
 * "/api/" and "/api/x/y" (otherwise "/api" would slip through to a looser route).
 *
 * @example
 * pathPattern("/api/*").test("/api"); // true
 * pathPattern("/api/*").test("/apix"); // false
 */
export function pathPattern(path: string): RegExp {
  const normalized = normalizePathname(path);
  const trailingWildcard = normalized.endsWith("/*");
  const body = trailingWildcard ? normalized.slice(0, -2) : normalized;
  const source = body.split("*").map(escapeRegExp).join(".*");
  return new RegExp(`^${source}${trailingWildcard ? "(?:/.*)?" : ""}$`, "s");
}

function compilePolicy(name: string, policy: ValidatedPolicy): CompiledPolicy {
  return {
    name,
    limits: policy.limits.map((limit) => ({
      name: limit.name,
      capacity: limit.capacity,
      refillTokens: limit.refill.tokens,
      refillIntervalMs: limit.refill.intervalMs,
    })),
    onError: policy.onError,
    mode: policy.mode,
    timeoutMs: policy.timeoutMs,
    maxWaitMs: policy.maxWaitMs ?? Math.max(DEFAULT_MAX_WAIT_MS, policy.timeoutMs),
    lease: policy.lease,
    localShare: policy.localShare,
    clock: policy.clock,
  };
}

function compileRoute(route: ValidatedRoute, policy: CompiledPolicy): CompiledRoute {
  const pattern = pathPattern(route.path);
  const methods = route.methods ? [...new Set(route.methods)] : null;
  const allowed = methods ? new Set(methods) : null;
  // HEAD is GET without a body and costs the upstream the same work; letting it bypass a GET route would
  // be a free pass. Methods are compared uppercased because fetch only normalises the case of a few.
  if (allowed?.has("GET")) allowed.add("HEAD");
  return {
    path: route.path,
    methods,
    policy,
    key: route.key,
    fallback: route.fallback ?? null,
    cost: route.cost,
    matches: function matches(method: string, pathname: string): boolean {
      if (allowed && !allowed.has(method.toUpperCase())) return false;
      return pattern.test(normalizePathname(pathname));
    },
  };
}

/**
 * Builds the runtime form of a document the schema has accepted (references are known to resolve).
 *
 * @example
 * const checked = validateDocument(DEFAULT_POLICIES);
 * if (checked.ok) compilePolicies(checked.value).policies.get("default")?.limits;
 * // [{ name: "burst", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 }]
 */
export function compilePolicies(doc: ValidatedPoliciesDocument): CompiledPolicies {
  const policies = new Map<string, CompiledPolicy>();
  for (const [name, policy] of Object.entries(doc.policies)) policies.set(name, compilePolicy(name, policy));
  const routes = doc.routes.map((route, i) => {
    const policy = policies.get(route.policy);
    if (!policy) throw new Error(`routes[${i}].policy: ${JSON.stringify(route.policy)} was not validated`);
    return compileRoute(route, policy);
  });
  const origins = doc.cors?.origins ?? [];
  return {
    prefix: doc.prefix,
    policies,
    routes,
    cors: { origins: origins === "*" || origins.includes("*") ? "*" : [...new Set(origins)] },
  };
}

/**
 * The first route, in document order, that covers the request; `null` when none does (the request is not
 * limited).
 *
 * @example
 * matchRoute(compiled, "GET", "/api/keys")?.policy.name; // "api"
 * matchRoute(compiled, "DELETE", "/api/keys")?.policy.name; // "default" (api lists only GET and POST)
 */
export function matchRoute(
  compiled: CompiledPolicies,
  method: string,
  pathname: string,
): CompiledRoute | null {
  return compiled.routes.find((route) => route.matches(method, pathname)) ?? null;
}
