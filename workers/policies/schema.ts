/** @module The policies document schema (zod 4): the single source of its rules, defaults and types. */
import { z } from "zod";
import { KEY_NAME_PATTERN } from "../../lua/keys";
import { checkRefill, MAX_REFILL_TOKENS, REFILL_SYNTAX, type RefillRate } from "./refill";

/** Where a request's identity comes from: the client IP, or a request header such as an API key. */
export type KeySource = { kind: "ip" } | { kind: "header"; name: string };

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

// RFC 9110 `token`: the characters a header name (and a method) may use.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Z]{1,32}$/;
const ROUTE_PATH = /^\/[^\s?#]{0,2047}$/;

function integer(min: number, max: number) {
  const reason = `is not an integer from ${min} to ${max}`;
  return z
    .number({ error: reason })
    .int({ error: reason })
    .min(min, { error: reason })
    .max(max, { error: reason });
}

/** A strict object whose unknown-field message lists the fields it does know, so typos are easy to fix. */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown field (expected one of: ${known})` : "is not an object",
  });
}

const name = z.string({ error: NAME_REASON }).regex(KEY_NAME_PATTERN, { error: NAME_REASON });

/**
 * Parses `"ip"` or `"header:<name>"`; header names are case-insensitive, so they are stored lowercase to
 * match `Headers.get` semantics and compare equal however they were written.
 */
function toKeySource(text: string, ctx: z.RefinementCtx): KeySource {
  if (text === "ip") return { kind: "ip" };
  const header = text.startsWith("header:") ? text.slice("header:".length) : "";
  if (HEADER_NAME.test(header)) return { kind: "header", name: header.toLowerCase() };
  ctx.addIssue({ code: "custom", message: KEY_REASON });
  return z.NEVER;
}

const keySource = z.string({ error: KEY_REASON }).transform(toKeySource);

function toRefillRate(text: string, ctx: z.RefinementCtx): RefillRate {
  const checked = checkRefill(text);
  if ("rate" in checked) return checked.rate;
  ctx.addIssue({ code: "custom", message: checked.reason });
  return z.NEVER;
}

const refill = z.string({ error: REFILL_SYNTAX }).transform(toRefillRate);

export const LimitSchema = strictObject({
  name,
  capacity: integer(1, MAX_CAPACITY),
  refill,
}).superRefine(function checkExactness(limit, ctx) {
  // The Lua script keeps `capacity * intervalMs` units as an exact integer; beyond 2^53 doubles round.
  const units = limit.capacity * limit.refill.intervalMs;
  if (units > Number.MAX_SAFE_INTEGER) {
    ctx.addIssue({
      code: "custom",
      path: ["capacity"],
      message:
        `× refill interval ${limit.refill.intervalMs} ms exceeds Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}): ` +
        "the Lua script stores tokens scaled by the interval as exact integers; lower the capacity or shorten the refill period",
    });
  }
});

export const PolicySchema = strictObject({
  limits: z
    .array(LimitSchema, { error: `is not a list of limits` })
    .min(1, { error: `must list 1 to ${MAX_LIMITS} limits` })
    .max(MAX_LIMITS, { error: `must list 1 to ${MAX_LIMITS} limits` })
    .superRefine(function checkUniqueNames(limits, ctx) {
      const seen = new Map<string, number>();
      limits.forEach((limit, i) => {
        const first = seen.get(limit.name);
        if (first === undefined) seen.set(limit.name, i);
        else
          ctx.addIssue({
            code: "custom",
            path: [i, "name"],
            message: `is also the name of limits[${first}] (limit names must be unique within a policy)`,
          });
      });
    }),
  onError: z.enum(["open", "closed"], { error: 'is not "open" or "closed"' }).default("open"),
  mode: z.enum(["enforce", "shadow"], { error: 'is not "enforce" or "shadow"' }).default("enforce"),
  timeoutMs: integer(1, MAX_TIMEOUT_MS).default(DEFAULT_TIMEOUT_MS),
  // Absent, it is DEFAULT_MAX_WAIT_MS or timeoutMs, whichever is longer (see compile.ts).
  maxWaitMs: integer(1, MAX_WAIT_MS).optional(),
  lease: z.enum(["auto", "off"], { error: 'is not "auto" or "off"' }).default("auto"),
}).superRefine(function checkWaits(policy, ctx) {
  if (policy.maxWaitMs !== undefined && policy.maxWaitMs < policy.timeoutMs)
    ctx.addIssue({
      code: "custom",
      path: ["maxWaitMs"],
      message: `is less than timeoutMs (${policy.timeoutMs}): the ceiling on a busy store's wait must be at least the silence that counts as unavailable`,
    });
});

export const RouteSchema = strictObject({
  path: z.string({ error: PATH_REASON }).regex(ROUTE_PATH, { error: PATH_REASON }),
  methods: z
    .array(z.string({ error: METHOD_REASON }).regex(METHOD, { error: METHOD_REASON }), {
      error: "is not a list of HTTP methods",
    })
    .min(1, { error: "must list at least one method (omit the field to match every method)" })
    .optional(),
  policy: z.string({ error: "is not a policy name" }),
  key: keySource,
  fallback: keySource.optional(),
  cost: integer(0, MAX_COST).default(1),
});

const origin = z
  .string({ error: ORIGIN_REASON })
  .refine((text) => text === "*" || isOrigin(text), { error: ORIGIN_REASON });

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    // `origin` is "null" for opaque schemes, and normalises case and default ports: demand the exact form.
    return url.origin !== "null" && url.origin === text;
  } catch {
    return false;
  }
}

const originList = z
  .array(origin, { error: ORIGINS_REASON })
  .refine((list) => !list.includes("*") || list.length === 1, {
    error: 'mixes "*" with other origins (use "*" alone to allow every origin)',
  });

export const CorsSchema = strictObject({
  origins: z.union([z.literal("*"), originList], { error: ORIGINS_REASON }),
});

export const PoliciesDocumentSchema = strictObject({
  prefix: name.default("erl"),
  policies: z
    .record(name, PolicySchema, { error: "is not an object of named policies" })
    .refine((p) => Object.keys(p).length > 0, { error: "must define at least one policy" }),
  routes: z.array(RouteSchema, { error: "is not a list of routes" }),
  cors: CorsSchema.optional(),
}).superRefine(function checkReferences(doc, ctx) {
  const defined = Object.keys(doc.policies);
  // With no policies at all, "must define at least one policy" already says it; one error per route is noise.
  if (defined.length === 0) return;
  doc.routes.forEach((route, i) => {
    if (!Object.hasOwn(doc.policies, route.policy)) {
      ctx.addIssue({
        code: "custom",
        path: ["routes", i, "policy"],
        message: `is not a defined policy (defined: ${defined.map((n) => JSON.stringify(n)).join(", ")})`,
      });
    }
  });
});

/** The policies document as written: optional fields may be left out. */
export type PoliciesDocument = z.input<typeof PoliciesDocumentSchema>;
/** The policies document once validated: defaults filled in, refill rates and key sources parsed. */
export type ValidatedPoliciesDocument = z.output<typeof PoliciesDocumentSchema>;
export type PolicyDocument = z.input<typeof PolicySchema>;
export type ValidatedPolicy = z.output<typeof PolicySchema>;
export type RouteDocument = z.input<typeof RouteSchema>;
export type ValidatedRoute = z.output<typeof RouteSchema>;
