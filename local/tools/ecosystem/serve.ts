/** @module One ecosystem server on a free loopback port: CORS for the demo page, and the statuses it sent, counted per key. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Every rate-limit header any dialect uses: the demo page reads them cross-origin. */
export const EXPOSED_HEADERS = [
  "RateLimit",
  "RateLimit-Policy",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "X-RateLimit-Used",
  "X-RateLimit-Resource",
  "Retry-After",
];

/** What a server answered for one key, counted as it sent it: the server's own figures, not the client's. */
export interface Counts {
  ok: number;
  throttled: number;
  other: number;
}

/** A started server: its origin, its counts per key, and a stop. */
export interface RunningServer {
  url: string;
  counts(key: string): Counts;
  stop(): Promise<void>;
}

/**
 * The key every ecosystem server limits by: the request path without its last segment, so `/run-1/0` …
 * `/run-1/59` share one quota and `/run-2/…` has its own (the demo's plain and client bursts stay apart).
 *
 * @example
 * limitKey("/demo-api/client/7"); // "/demo-api/client"
 */
export function limitKey(path: string): string {
  const clean = path.split("?")[0] ?? "/";
  const slash = clean.lastIndexOf("/");
  return slash <= 0 ? "/" : clean.slice(0, slash);
}

/**
 * Serves `handler` on 127.0.0.1 (a free port unless `port` is given), adds CORS headers to every answer and
 * counts its statuses per {@link limitKey}.
 *
 * @example
 * const server = await serve((req, res) => res.end("ok"));
 * await fetch(`${server.url}/a/1`); server.counts("/a"); // { ok: 1, throttled: 0, other: 0 }
 */
export async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  port = 0,
): Promise<RunningServer> {
  const counts = new Map<string, Counts>();
  const server = createServer((req, res) => {
    const key = limitKey(req.url ?? "/");
    res.on("finish", () => {
      const c = counts.get(key) ?? { ok: 0, throttled: 0, other: 0 };
      if (res.statusCode >= 200 && res.statusCode < 300) c.ok++;
      else if (res.statusCode === 429 || res.statusCode === 503) c.throttled++;
      else c.other++;
      counts.set(key, c);
    });
    res.setHeader("Access-Control-Allow-Origin", "*");
    res.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS.join(", "));
    res.setHeader("Cache-Control", "no-store");
    void Promise.resolve(handler(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end("internal error\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    counts: (key) => ({ ...(counts.get(key) ?? { ok: 0, throttled: 0, other: 0 }) }),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
