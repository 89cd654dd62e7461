/** @module The edge app: CORS, health and metrics, the check API, then every other request, limited and forwarded upstream. */
import type { Hono } from "hono";
import { cors } from "hono/cors";
import { HonoBase } from "hono/hono-base";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { RATE_LIMIT_HEADERS } from "../headers";
import { problem } from "../http/problem";
import type { Limiter } from "../limiter";
import { renderMetrics } from "../metrics";
import { rateLimit } from "../middleware";
import { checkApi } from "./check-api";
import { demoResponse, forward } from "./forward";

export interface AppOptions {
  limiter: Limiter;
  checkToken: string | null;
  upstreamUrl: URL | null;
  instanceId: string | null;
  /** Limiting off: the same app and path, no Redis call (the benchmark's baseline). */
  disabled?: boolean;
  /** Answers whether Redis is reachable, for `/healthz`. */
  redisHealthy: () => Promise<boolean>;
}

/**
 * Builds the Hono app that `wrangler deploy` ships and Miniflare runs locally.
 *
 * @example
 * const app = createApp({ limiter, checkToken: null, upstreamUrl: null, instanceId: "edge-1", redisHealthy });
 * export default app;
 */
export function createApp(options: AppOptions): Hono {
  const { limiter, instanceId } = options;
  // RegExpRouter alone (Hono's fastest, and its default's first choice) handles every route here; `new Hono()`
  // would also bundle SmartRouter and TrieRouter into every isolate's script.
  const app: Hono = new HonoBase({ router: new RegExpRouter() });
  const { origins } = limiter.policies.cors;
  const routeHeaders = limiter.policies.routes.flatMap((r) =>
    [r.key, r.fallback].flatMap((k) => (k?.kind === "header" ? [k.name] : [])),
  );

  app.onError(function onError(error) {
    console.error(`edge-rate-limiter: ${error.stack ?? error.message}`);
    return problem(503, "Service Unavailable", `internal error: ${error.message}`);
  });
  app.notFound((c) =>
    problem(404, "Not Found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`),
  );

  if (instanceId) {
    app.use("*", async function servedBy(c, next) {
      await next();
      c.res.headers.set("X-Served-By", instanceId);
    });
  }
  app.use(
    "*",
    cors({
      origin: origins === "*" ? "*" : [...origins],
      allowHeaders: ["Authorization", "Content-Type", ...new Set(routeHeaders)],
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: [...RATE_LIMIT_HEADERS],
      maxAge: 600,
    }),
  );

  app.get("/healthz", async function healthz(c) {
    // Always 200: the instance itself is up, and each policy's onError decides what a Redis outage means.
    const redis = await options.redisHealthy();
    return c.json({ ok: true, instance: instanceId, redis: redis ? "ok" : "unreachable" });
  });
  app.get("/metrics", function metrics(c) {
    const text = renderMetrics(limiter.metrics, instanceId ? { instance: instanceId } : {});
    return c.text(text, 200, { "Content-Type": "text/plain; version=0.0.4" });
  });
  app.route("/v1", checkApi(limiter, options.checkToken));

  if (!options.disabled) app.use("*", rateLimit({ limiter }));
  app.all("*", function limitAndForward(c) {
    return options.upstreamUrl ? forward(c, options.upstreamUrl) : demoResponse(c, instanceId);
  });
  return app;
}
