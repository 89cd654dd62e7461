/** @module Test helper: the REST proxy as a real child process on a free port (started as the stack starts it), and raw POSTs. */
import { type ProxyProcess, startProxyProcess } from "../../local/support";

/** A proxy process that belongs to the calling test. */
export type TestProxy = ProxyProcess;

/**
 * Starts the proxy for `redisUrl` with a fresh token (in its environment) on a free port and waits until
 * its `/healthz` says Redis is connected (with `ready: "listening"`: until it answers HTTP at all, for a
 * Redis that is not there), with `--upstash-semantics` unless `options` says `upstashSemantics: false`.
 * The proxy listens before its Redis connection is up, and on a loaded machine a first command sent in
 * between gets a 503: a test that expects the store must not race that. `extra` are more CLI flags (e.g. `["--refuse-script-time"]`); `options`
 * pins the port and token, e.g. to restart a proxy in place.
 *
 * @example
 * const proxy = await startTestProxy(redis.url);
 * const client = new Redis({ url: proxy.url, token: proxy.token }); // from "@upstash/redis"
 * await proxy.stop();
 */
export function startTestProxy(
  redisUrl: string,
  extra: string[] = [],
  options: { port?: number; token?: string; upstashSemantics?: boolean; ready?: "listening" | "redis" } = {},
): Promise<TestProxy> {
  return startProxyProcess({ redisUrl, args: extra, ready: "redis", ...options });
}

export interface Posted {
  status: number;
  body: unknown;
  ms: number;
}

/**
 * POSTs a command (`/`), a pipeline or a transaction to the proxy; never throws on HTTP errors.
 *
 * @example
 * await post(proxy, ["get", "k"]); // { status: 200, body: { result: null }, ms: 2 }
 */
export async function post(proxy: TestProxy, body: unknown, path = "/"): Promise<Posted> {
  const started = Date.now();
  const res = await fetch(`${proxy.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${proxy.token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown, ms: Date.now() - started };
}
