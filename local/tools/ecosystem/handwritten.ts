/** @module Servers no package builds: draft -11 fixed windows with `pk` on both fields, GitHub-style `x-ratelimit-*`, and servers that say nothing but 429 (with or without Retry-After). */
import type { IncomingMessage, ServerResponse } from "node:http";
import { limitKey } from "./serve";

/** A fixed window per key, as the ecosystem's memory stores keep it. */
class FixedWindows {
  private readonly windows = new Map<string, { start: number; hits: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    /** Where a new window starts: at the first hit, or snapped to a whole second (GitHub-style resets). */
    private readonly startOf: (now: number) => number = (now) => now,
  ) {}

  /** Counts a hit; says whether it is within the limit, how many remain and when the window ends. */
  hit(key: string, now: number): { allowed: boolean; remaining: number; used: number; resetAt: number } {
    let w = this.windows.get(key);
    if (!w || now >= w.start + this.windowMs) {
      w = { start: this.startOf(now), hits: 0 };
      this.windows.set(key, w);
    }
    w.hits++;
    return {
      allowed: w.hits <= this.limit,
      remaining: Math.max(0, this.limit - w.hits),
      used: Math.min(w.hits, this.limit),
      resetAt: w.start + this.windowMs,
    };
  }
}

function answer(res: ServerResponse, allowed: boolean, headers: Record<string, string>): void {
  res.writeHead(allowed ? 200 : 429, { "Content-Type": "text/plain", ...headers });
  res.end(allowed ? "ok\n" : "Too Many Requests\n");
}

/**
 * GitHub's REST API headers: `x-ratelimit-limit`, `-remaining`, `-used`, `-resource` and `-reset` in Unix
 * seconds. Windows start on a whole second, so the reset is exact; a 429 carries no `Retry-After`.
 *
 * @example
 * const server = await serve(githubStyle(10, 2000));
 */
export function githubStyle(
  limit: number,
  windowMs: number,
): (req: IncomingMessage, res: ServerResponse) => void {
  const windows = new FixedWindows(limit, windowMs, (now) => Math.floor(now / 1000) * 1000);
  return function github(req, res) {
    const hit = windows.hit(limitKey(req.url ?? "/"), Date.now());
    answer(res, hit.allowed, {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(hit.remaining),
      "x-ratelimit-used": String(hit.used),
      "x-ratelimit-resource": "core",
      "x-ratelimit-reset": String(Math.ceil(hit.resetAt / 1000)),
    });
  };
}

/**
 * Draft -11 headers from a fixed window, with the partition key on both fields so the `RateLimit` item
 * matches its `RateLimit-Policy` (`"w2";q=10;w=2;pk=:…:` / `"w2";r=9;t=2;pk=:…:`): the case where pacing at
 * q/w, as if the window were a token bucket, draws a 429 in every window. 429s carry `Retry-After`.
 *
 * @example
 * const server = await serve(draft11FixedWindow(10, 2000));
 */
export function draft11FixedWindow(
  limit: number,
  windowMs: number,
): (req: IncomingMessage, res: ServerResponse) => void {
  const windows = new FixedWindows(limit, windowMs);
  const name = `"${limit}-per-${windowMs / 1000}s"`;
  return function draft11(req, res) {
    const now = Date.now();
    const key = limitKey(req.url ?? "/");
    const hit = windows.hit(key, now);
    const pk = `:${Buffer.from(key).toString("base64")}:`;
    const t = Math.ceil((hit.resetAt - now) / 1000);
    answer(res, hit.allowed, {
      "RateLimit-Policy": `${name};q=${limit};w=${Math.ceil(windowMs / 1000)};pk=${pk}`,
      RateLimit: `${name};r=${hit.remaining};t=${t};pk=${pk}`,
      ...(hit.allowed ? {} : { "Retry-After": String(t) }),
    });
  };
}

/**
 * A server that sends no rate-limit headers: a fixed window from the first hit, 429 past the limit, with
 * `Retry-After` (whole seconds until the window ends, rounded up) when `retryAfter` is set.
 *
 * @example
 * const server = await serve(statusOnly(10, 2000, { retryAfter: true }));
 */
export function statusOnly(
  limit: number,
  windowMs: number,
  options: { retryAfter: boolean },
): (req: IncomingMessage, res: ServerResponse) => void {
  const windows = new FixedWindows(limit, windowMs);
  return function bare(req, res) {
    const now = Date.now();
    const hit = windows.hit(limitKey(req.url ?? "/"), now);
    const retry = !hit.allowed && options.retryAfter;
    answer(res, hit.allowed, retry ? { "Retry-After": String(Math.ceil((hit.resetAt - now) / 1000)) } : {});
  };
}
