/** @module Where an allowed request goes: forwarded to `UPSTREAM_URL` (streamed), or a small demo JSON answer. */
import type { Context } from "hono";

// Hop-by-hop headers belong to one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
];

/**
 * Forwards the request to `upstream` (same method, path, query, headers and streamed body).
 *
 * @example
 * app.all("*", (c) => forward(c, new URL("https://api.internal")));
 */
export async function forward(c: Context, upstream: URL): Promise<Response> {
  const incoming = new URL(c.req.url);
  const target = new URL(incoming.pathname + incoming.search, upstream);
  const headers = new Headers(c.req.raw.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.delete("host");
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  const response = await fetch(target, {
    method: c.req.method,
    headers,
    body: hasBody ? c.req.raw.body : undefined,
    redirect: "manual",
  });
  return new Response(response.body, response);
}

/**
 * The built-in answer when no upstream is configured: shows what was limited and who served it.
 *
 * @example
 * app.all("*", (c) => demoResponse(c, "edge-1"));
 */
export function demoResponse(c: Context, instanceId: string | null): Response {
  return c.json({
    ok: true,
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    servedBy: instanceId,
    note: "edge-rate-limiter demo answer: set UPSTREAM_URL to forward allowed requests",
  });
}
