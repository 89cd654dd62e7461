/** @module Servers built with the ecosystem's own middleware: express-rate-limit in each header mode, and hono-rate-limiter. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { limitKey } from "./serve";

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** express-rate-limit's header modes: a `standardHeaders` draft, or `legacy` for `X-RateLimit-*` alone. */
export type ExpressMode = "draft-6" | "draft-7" | "draft-8" | "legacy";

/**
 * An Express 5 app limited by express-rate-limit (its memory store: a fixed window from each key's first
 * hit) at `limit` per `windowMs`, keyed by {@link limitKey}. The packages are devDependencies, loaded on
 * first use.
 *
 * @example
 * const server = await serve(await expressRateLimit("draft-7", 10, 2000));
 */
export async function expressRateLimit(mode: ExpressMode, limit: number, windowMs: number): Promise<Handler> {
  const { default: express } = await import("express");
  const { rateLimit } = await import("express-rate-limit");
  const app = express();
  app.use(
    rateLimit({
      windowMs,
      limit,
      standardHeaders: mode === "legacy" ? false : mode,
      legacyHeaders: mode === "legacy",
      keyGenerator: (req) => limitKey(req.path),
      identifier: `${limit}-in-${windowMs / 1000}sec`,
      // The checks are for apps behind proxies and keying by IP; these servers key by path on loopback.
      validate: false,
    }),
  );
  app.get("/{*rest}", (_req, res) => {
    res.type("text/plain").send("ok\n");
  });
  return app;
}

/**
 * A Hono app limited by hono-rate-limiter with its default headers (draft -06) and memory store, keyed by
 * {@link limitKey}, served through @hono/node-server's request listener (without replacing this process's
 * global `Request`/`Response`).
 *
 * @example
 * const server = await serve(await honoRateLimiter(10, 2000));
 */
export async function honoRateLimiter(limit: number, windowMs: number): Promise<Handler> {
  const { Hono } = await import("hono");
  const { rateLimiter } = await import("hono-rate-limiter");
  const { getRequestListener } = await import("@hono/node-server");
  const app = new Hono();
  app.use(rateLimiter({ windowMs, limit, keyGenerator: (c) => limitKey(new URL(c.req.url).pathname) }));
  app.get("*", (c) => c.text("ok\n"));
  return getRequestListener(app.fetch, { overrideGlobalObjects: false });
}
