/** @module Test helper: the REST proxy as a real child process on a free port, with a random token. */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { freePort, type ManagedProcess, spawnManaged, waitUntil } from "../../local/process";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A proxy process that belongs to the calling test. */
export interface TestProxy {
  url: string;
  token: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts `local/rest-proxy/cli.ts` for `redisUrl` with a fresh token on a free port and waits until it
 * answers HTTP. `extra` are more CLI flags (e.g. `["--strip-script-flags"]`); `options` pins the port
 * and token, e.g. to restart a proxy in place after stopping it.
 *
 * @example
 * const proxy = await startTestProxy(redis.url);
 * const client = new Redis({ url: proxy.url, token: proxy.token }); // from "@upstash/redis"
 * await proxy.stop();
 */
export async function startTestProxy(
  redisUrl: string,
  extra: string[] = [],
  options: { port?: number; token?: string } = {},
): Promise<TestProxy> {
  const port = options.port ?? (await freePort());
  const token = options.token ?? randomBytes(18).toString("hex");
  const args = ["--import", "tsx", "local/rest-proxy/cli.ts", "--port", String(port), "--redis", redisUrl];
  const child = spawnManaged("rest-proxy", process.execPath, [...args, "--token", token, ...extra], {
    cwd: REPO_ROOT,
  });
  const url = `http://127.0.0.1:${port}`;
  // Any answer from /healthz (200, or 503 while Redis is down) means the server listens.
  await waitUntil(`rest proxy on port ${port}`, () => fetch(`${url}/healthz`).then(() => true), {
    timeoutMs: 20_000,
    process: child,
  });
  return { url, token, port, process: child, stop: () => child.stop() };
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
