/** @module Rate-limited servers as the ecosystem builds them, each on its own port: the client's suites, the table script and the demo's dialect selector use them. */
import type { Dialect } from "../../../client/dialects";
import { draft11FixedWindow, githubStyle, statusOnly } from "./handwritten";
import { expressRateLimit, honoRateLimiter } from "./middleware";
import { type RunningServer, serve } from "./serve";

export { type Counts, EXPOSED_HEADERS, limitKey, type RunningServer, serve } from "./serve";

/** Every server the catalogue can start. */
export type EcosystemKind =
  | "express-draft-6"
  | "express-draft-7"
  | "express-draft-8"
  | "express-legacy"
  | "draft-11-pk"
  | "hono-rate-limiter"
  | "github"
  | "retry-after-only"
  | "status-only";

/** One catalogue entry: what it is and what the client should make of it. */
export interface EcosystemEntry {
  kind: EcosystemKind;
  label: string;
  /** The dialect the client reads from its answers (`null`: nothing at all). */
  dialect: Dialect | null;
  /** Its headers say how many requests may go and when the quota is back. */
  readable: boolean;
  /**
   * Wait a client must add per window on top of the window itself because of how the reset is written:
   * express-rate-limit's legacy `X-RateLimit-Reset` is Unix seconds rounded up, and its windows start at
   * the first hit, so each window can cost up to a second more.
   */
  resetRoundingMs: number;
}

export const ECOSYSTEM: readonly EcosystemEntry[] = [
  {
    kind: "express-draft-6",
    label: 'express-rate-limit 8, `standardHeaders: "draft-6"`',
    dialect: "draft-06",
    readable: true,
    resetRoundingMs: 0,
  },
  {
    kind: "express-draft-7",
    label: 'express-rate-limit 8, `standardHeaders: "draft-7"`',
    dialect: "draft-07",
    readable: true,
    resetRoundingMs: 0,
  },
  {
    kind: "hono-rate-limiter",
    label: "hono-rate-limiter 0.5, its default headers",
    dialect: "draft-06",
    readable: true,
    resetRoundingMs: 0,
  },
  {
    kind: "express-draft-8",
    label: 'express-rate-limit 8, `standardHeaders: "draft-8"`',
    dialect: "draft-11",
    readable: true,
    resetRoundingMs: 0,
  },
  {
    kind: "draft-11-pk",
    label: "draft -11 fixed window, `pk` on both fields (items match)",
    dialect: "draft-11",
    readable: true,
    resetRoundingMs: 0,
  },
  {
    kind: "express-legacy",
    label: "express-rate-limit 8, `X-RateLimit-*` only",
    dialect: "x-ratelimit",
    readable: true,
    resetRoundingMs: 1000,
  },
  {
    kind: "github",
    label: "GitHub-style `x-ratelimit-*` (epoch-seconds reset)",
    dialect: "github",
    readable: true,
    resetRoundingMs: 0,
  },
  {
    kind: "retry-after-only",
    label: "no rate-limit headers, 429 with `Retry-After`",
    dialect: "retry-after",
    readable: false,
    resetRoundingMs: 0,
  },
  {
    kind: "status-only",
    label: "no rate-limit headers, bare 429",
    dialect: null,
    readable: false,
    resetRoundingMs: 0,
  },
];

/** A started catalogue server. */
export interface EcosystemServer extends RunningServer {
  entry: EcosystemEntry;
}

/**
 * Starts one catalogue server at `limit` requests per `windowMs` (default 10 per 2 s), on a free loopback
 * port unless `port` is given. express-rate-limit, express, hono-rate-limiter and @hono/node-server are
 * devDependencies: starting one of their servers without them installed rejects, naming the import.
 *
 * @example
 * const server = await startEcosystemServer("express-draft-7");
 * await fetch(`${server.url}/run-1/0`); server.counts("/run-1"); // { ok: 1, throttled: 0, other: 0 }
 * await server.stop();
 */
export async function startEcosystemServer(
  kind: EcosystemKind,
  options: { limit?: number; windowMs?: number; port?: number } = {},
): Promise<EcosystemServer> {
  const limit = options.limit ?? 10;
  const windowMs = options.windowMs ?? 2000;
  const entry = ECOSYSTEM.find((e) => e.kind === kind);
  if (!entry) throw new Error(`ecosystem: no server named ${JSON.stringify(kind)}`);
  const handler =
    kind === "express-draft-6" || kind === "express-draft-7" || kind === "express-draft-8"
      ? await expressRateLimit(kind.slice("express-".length) as "draft-6", limit, windowMs)
      : kind === "express-legacy"
        ? await expressRateLimit("legacy", limit, windowMs)
        : kind === "hono-rate-limiter"
          ? await honoRateLimiter(limit, windowMs)
          : kind === "github"
            ? githubStyle(limit, windowMs)
            : kind === "draft-11-pk"
              ? draft11FixedWindow(limit, windowMs)
              : statusOnly(limit, windowMs, { retryAfter: kind === "retry-after-only" });
  return { ...(await serve(handler, options.port)), entry };
}
