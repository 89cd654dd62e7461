/** @module The check API for other services: `POST /v1/check`, inspect and reset buckets, behind a bearer token. */
import type { Hono } from "hono";
import { HonoBase } from "hono/hono-base";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { bindingLimit, decisionHeaders } from "../headers";
import { bearerMatches } from "../http/auth";
import { problem } from "../http/problem";
import type { Decision, Limiter } from "../limiter";
import { checkOptions } from "../middleware";
import type { CompiledPolicy } from "../policies";
import { keyProblems, parseCheckBody } from "./check-body";

/** The JSON body of a check answer: the binding limit at the top, every limit below. */
function decisionBody(decision: Decision): Record<string, unknown> {
  const result = decision.result;
  const binding = result ? bindingLimit(result.limits) : undefined;
  return {
    allowed: decision.allowed,
    reason: decision.reason,
    policy: decision.policy.name,
    remaining: binding?.remaining ?? null,
    limit: binding?.limit ?? null,
    resetMs: binding?.resetMs ?? null,
    retryAfterMs: result ? (decision.allowed ? 0 : result.retryAfterMs) : null,
    limits: (result?.limits ?? []).map((l) => ({
      name: l.name,
      limit: l.limit,
      remaining: l.remaining,
      resetMs: l.resetMs,
      retryAfterMs: l.retryAfterMs,
    })),
  };
}

function answer(decision: Decision): Response {
  const status = decision.allowed ? 200 : decision.result ? 429 : 503;
  const headers = decisionHeaders(decision);
  headers.set("Content-Type", "application/json");
  return new Response(JSON.stringify(decisionBody(decision)), { status, headers });
}

/**
 * Routes under `/v1`. Without a configured token every route answers 404 problem+json saying the API is off.
 *
 * @example
 * app.route("/v1", checkApi(limiter, env.CHECK_API_TOKEN ?? null));
 */
export function checkApi(limiter: Limiter, token: string | null): Hono {
  // As in createApp: RegExpRouter alone keeps the other routers out of the bundle.
  const api: Hono = new HonoBase({ router: new RegExpRouter() });
  const policyNamed = (name: string): CompiledPolicy | Response =>
    limiter.policies.policies.get(name) ??
    problem(400, "Bad Request", `policy: unknown policy ${JSON.stringify(name)}`, {
      policies: [...limiter.policies.policies.keys()],
    });

  api.use("*", async function requireToken(c, next) {
    if (!token) {
      return problem(404, "Not Found", "the check API is off: set the CHECK_API_TOKEN secret to turn it on");
    }
    if (!(await bearerMatches(c.req.header("Authorization"), token))) {
      const response = problem(
        401,
        "Unauthorized",
        "missing or wrong bearer token (Authorization: Bearer <CHECK_API_TOKEN>)",
      );
      response.headers.set("WWW-Authenticate", 'Bearer realm="edge-rate-limiter"');
      return response;
    }
    return next();
  });

  api.post("/check", async function check(c) {
    let json: unknown;
    try {
      json = JSON.parse(await c.req.text());
    } catch (error) {
      return problem(400, "Bad Request", `body: not valid JSON (${(error as Error).message})`);
    }
    const parsed = parseCheckBody(json);
    if (!parsed.ok) return problem(400, "Bad Request", parsed.error);
    const policy = policyNamed(parsed.value.policy);
    if (policy instanceof Response) return policy;
    return answer(await limiter.check(policy, parsed.value.key, parsed.value.cost, checkOptions(c)));
  });

  api.on(["GET", "DELETE"], "/buckets/:policy/:key", async function bucket(c) {
    const policy = policyNamed(c.req.param("policy"));
    if (policy instanceof Response) return policy;
    const key = c.req.param("key");
    const problems = keyProblems(key);
    if (problems.length > 0) return problem(400, "Bad Request", problems.map((p) => `key: ${p}`).join("; "));
    if (c.req.method === "DELETE") {
      const reset = await limiter.reset(policy, key).then(
        () => null,
        (error: Error) => problem(503, "Service Unavailable", `reset failed: ${error.message}`),
      );
      if (reset) return reset;
    }
    return answer(await limiter.check(policy, key, 0, checkOptions(c)));
  });

  api.all("*", (c) =>
    problem(404, "Not Found", `no such check API route: ${c.req.method} ${new URL(c.req.url).pathname}`),
  );
  return api;
}
