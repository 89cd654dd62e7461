/** @module `rateLimit()`: Hono middleware that limits a request, answers 429 when denied and adds the headers. */
import type { Context, MiddlewareHandler } from "hono";
import { decisionHeaderFields, withHeaders } from "../headers";
import { PROBLEM_TYPES, problem, problemResponse } from "../http/problem";
import { type Identified, identify } from "../identity";
import type { CheckOptions, Decision, Limiter } from "../limiter";
import { type CompiledPolicy, type CompiledRoute, matchRoute } from "../policies";

/** Context variables the middleware sets: handlers can read `c.get("rateLimit")`. */
export type RateLimitVariables = { rateLimit: Decision };

export interface RateLimitOptions {
  limiter: Limiter;
  /**
   * The policy to apply. When omitted, the policies document's `routes` decide (first match wins) and
   * requests no route matches pass unlimited. An unknown name throws when the middleware is created.
   */
  policy?: string;
  /** The identity to limit by. Default: the route's `key` (or `ip` from `CF-Connecting-IP` with `policy`). */
  key?: (c: Context) => string | undefined | Promise<string | undefined>;
  /** Tokens a request takes (default: the route's `cost`, else 1). */
  cost?: number | ((c: Context) => number | Promise<number>);
  /**
   * Keeps the limiter's background work (lease top-ups and give-backs, a store call other requests wait
   * for) alive after the response, where the request has no execution context of its own: on Vercel's
   * Edge Runtime behind `hono/vercel`, pass `waitUntil` from `@vercel/functions`. Default: Hono's
   * `c.executionCtx.waitUntil` (Workers, FetchEvent handlers); none on Deno, Bun and Node, whose
   * processes outlive the response and finish that work anyway.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * The response for a denied decision, as problem+json with the types of draft-ietf-httpapi-ratelimit-headers-11:
 * 429 `quota-exceeded` when a limit said no, naming the limits in `violated-policies` (as in
 * `RateLimit-Policy`); 503 `temporary-reduced-capacity` when Redis could not answer and the policy fails
 * closed: every limit of the policy is out of service until the store answers again, so all are named.
 * Both keep `policy`, `reason` and (429) `retryAfterMs` for clients that want more than the draft's members.
 *
 * @example
 * if (!decision.allowed) return deniedResponse(decision);
 */
export function deniedResponse(decision: Decision): Response {
  const headers = decisionHeaderFields(decision);
  const name = decision.policy.name;
  if (!decision.result) {
    const detail = `rate limiter unavailable (${decision.reason}); policy "${name}" fails closed`;
    return problem(
      503,
      "Temporary Reduced Capacity",
      detail,
      {
        type: PROBLEM_TYPES.temporaryReducedCapacity,
        "violated-policies": decision.policy.limits.map((l) => l.name),
        policy: name,
        reason: decision.reason,
      },
      headers,
    );
  }
  return problemResponse(429, quotaExceededBody(decision, decision.result), headers);
}

/** The 429 problem: the draft's members first, then `policy`, `reason` and `retryAfterMs`. */
function quotaExceededBody(decision: Decision, result: NonNullable<Decision["result"]>): string {
  const name = decision.policy.name;
  const violated = result.deniedBy;
  const quoted = violated.map((v) => `"${v}"`).join(", ");
  const detail =
    decision.reason === "cost_exceeds_capacity"
      ? `request cost ${decision.cost} exceeds the capacity of limit ${quoted} of policy "${name}"`
      : `rate limit exceeded: policy "${name}", limit ${quoted}`;
  return JSON.stringify({
    type: PROBLEM_TYPES.quotaExceeded,
    title: "Quota Exceeded",
    status: 429,
    detail,
    "violated-policies": violated,
    policy: name,
    reason: decision.reason,
    retryAfterMs: result.retryAfterMs,
  });
}

/**
 * The request's `waitUntil`, so the limiter's background work outlives the response: the one the app
 * passed, else the execution context's (Workers, FetchEvent handlers); where there is neither (Deno, Bun,
 * Node), the process lives on and the work runs to its end without one.
 *
 * @example
 * await limiter.check(policy, identity, 1, checkOptions(c));
 */
export function checkOptions(c: Context, waitUntil?: RateLimitOptions["waitUntil"]): CheckOptions {
  if (waitUntil) return { waitUntil };
  let ctx: { waitUntil(promise: Promise<unknown>): void };
  try {
    ctx = c.executionCtx;
  } catch {
    return {};
  }
  return { waitUntil: (promise) => ctx.waitUntil(promise) };
}

/**
 * The URL's path as `new URL(url).pathname` gives it for a request's (already serialised) URL, by a scan
 * of the string: no parse on every request. Undecoded: `matchRoute` normalises it itself.
 */
function pathOf(url: string): string {
  // A serialised http(s) URL always has a path after its authority.
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

interface Target {
  policy: CompiledPolicy;
  route: CompiledRoute | null;
}

function targetFinder(options: RateLimitOptions): (c: Context) => Target | null {
  const { policies } = options.limiter;
  if (options.policy !== undefined) {
    // A misnamed policy is a bug in the app: say so when the middleware is created, not on every request.
    const policy = policies.policies.get(options.policy);
    if (!policy) throw new Error(`rateLimit(): unknown policy "${options.policy}"`);
    const fixed: Target = { policy, route: null };
    return () => fixed;
  }
  return function byRoute(c) {
    const route = matchRoute(policies, c.req.method, pathOf(c.req.url));
    return route ? { policy: route.policy, route } : null;
  };
}

const NO_KEY = { ok: false as const, error: "no rate-limit key for this request" };

/** The request's identity: synchronous unless the app's `key` function returns a promise. */
function identityOf(
  c: Context,
  options: RateLimitOptions,
  route: CompiledRoute | null,
): Identified | Promise<Identified> {
  if (!options.key) return identify(c.req.raw, route?.key ?? { kind: "ip" }, route?.fallback ?? null);
  const key = options.key(c);
  return key instanceof Promise ? key.then(fromKey) : fromKey(key);
}

function fromKey(key: string | undefined): Identified {
  return key ? { ok: true, identity: key } : NO_KEY;
}

/**
 * Rate-limits requests with a limiter from `createLimiter`.
 *
 * @example
 * const limiter = createLimiter({ policies, redis: () => new Redis({ url, token }) });
 * app.use("/api/*", rateLimit({ limiter, policy: "api", key: (c) => c.req.header("x-api-key") }));
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<{ Variables: RateLimitVariables }> {
  const findTarget = targetFinder(options);
  return async function rateLimitMiddleware(c, next) {
    const target = findTarget(c);
    if (target === null) return next();
    // Awaited only when a promise: every await is a turn of the microtask queue on every request.
    let who = identityOf(c, options, target.route);
    if (who instanceof Promise) who = await who;
    if (!who.ok) return problem(400, "Bad Request", who.error, { policy: target.policy.name });
    let cost =
      typeof options.cost === "function" ? options.cost(c) : (options.cost ?? target.route?.cost ?? 1);
    if (cost instanceof Promise) cost = await cost;
    const hooks = checkOptions(c, options.waitUntil);
    const decision = await options.limiter.check(target.policy, who.identity, cost, hooks);
    c.set("rateLimit", decision);
    if (!decision.allowed) return deniedResponse(decision);
    await next();
    const res = withHeaders(c.res, decisionHeaderFields(decision));
    // Hono's `res` setter copies the whole response to merge headers: assign only when a copy was needed.
    if (res !== c.res) c.res = res;
  };
}
