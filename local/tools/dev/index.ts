/** @module `npm run dev`: `wrangler dev` on the worker's source, with a private Redis and the REST proxy behind it. */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Env } from "../../../workers/config";
import {
  freePort,
  type ManagedProcess,
  type ProxyProcess,
  pingRedis,
  REPO_ROOT,
  type RedisServer,
  repoPath,
  spawnManaged,
  startProxyProcess,
  startRedis,
  waitUntil,
} from "../../support";

export interface DevOptions {
  /** wrangler dev's port (default 8787; 0 = a free port). */
  port?: number;
  /** The policies document as JSON text (validated by the caller); the worker's default when absent. */
  policies?: string;
  upstream?: string;
  checkToken?: string;
  /** Use this Redis instead of starting one. */
  redisUrl?: string;
  /** More `wrangler dev` arguments, e.g. `["--inspector-port", "9230"]`. */
  wranglerArgs?: string[];
  /** Every line wrangler prints (default: dropped). */
  echo?: (line: string) => void;
}

export interface DevSession {
  /** Where wrangler dev serves the worker. */
  url: string;
  proxy: ProxyProcess;
  redisUrl: string;
  wrangler: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * One `KEY=value` line of a dotenv file. The value is quoted with a quote character it does not contain,
 * since dotenv has no escapes for quotes; policies are passed compact, so no value spans lines.
 *
 * @example
 * dotenvLine("POLICIES", '{"routes":[]}'); // `POLICIES='{"routes":[]}'`
 */
export function dotenvLine(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${name}: a value passed to wrangler dev must be one line`);
  const quote = ["'", "`", '"'].find((q) => !value.includes(q));
  if (quote === undefined)
    throw new Error(`${name}: contains ', \` and " at once, which a .env file can't hold`);
  return `${name}=${quote}${value}${quote}`;
}

/**
 * The worker's variables as a private env file for `wrangler dev --env-file`: the proxy token reaches
 * wrangler without argv (where `ps` shows it) and without a `.dev.vars` left in the repository.
 */
async function writeEnvFile(dir: string, vars: Env): Promise<string> {
  const file = join(dir, "dev.env");
  const lines = Object.entries(vars).flatMap(([k, v]) => (v ? [dotenvLine(k, v)] : []));
  await writeFile(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

async function privateRedis(
  redisUrl: string | undefined,
): Promise<{ url: string; server: RedisServer | null }> {
  if (!redisUrl) {
    const server = await startRedis();
    return { url: server.url, server };
  }
  const { hostname, port } = new URL(redisUrl);
  if (!(await pingRedis(Number(port || 6379), hostname))) {
    throw new Error(`--redis-url ${redisUrl}: no Redis answers PING there`);
  }
  return { url: redisUrl, server: null };
}

/**
 * Starts Redis (unless `redisUrl` is given), the REST proxy and `wrangler dev` on `workers/worker.ts`
 * (wrangler.toml), with the proxy's URL and token, the policies and the other variables passed in a
 * private env file. wrangler watches the source and reloads the worker on every change. Resolves when
 * the worker answers `GET /healthz` with 200.
 *
 * @example
 * const dev = await startDev({ port: 0, policies: JSON.stringify(doc) });
 * await fetch(`${dev.url}/hello`);
 * await dev.stop();
 */
export async function startDev(options: DevOptions = {}): Promise<DevSession> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const fn of stops.splice(0).reverse()) await fn().catch(() => undefined);
  };
  try {
    const redis = await privateRedis(options.redisUrl);
    if (redis.server) stops.push(() => (redis.server as RedisServer).stop());
    const proxy = await startProxyProcess({ redisUrl: redis.url });
    stops.push(() => proxy.stop());
    const dir = await mkdtemp(join(tmpdir(), "erl-dev-"));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const envFile = await writeEnvFile(dir, {
      UPSTASH_REDIS_REST_URL: proxy.url,
      UPSTASH_REDIS_REST_TOKEN: proxy.token,
      POLICIES: options.policies ? JSON.stringify(JSON.parse(options.policies)) : undefined,
      UPSTREAM_URL: options.upstream,
      CHECK_API_TOKEN: options.checkToken,
      INSTANCE_ID: "wrangler-dev",
    });
    const port = options.port === 0 ? await freePort() : (options.port ?? 8787);
    const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--env-file", envFile];
    const wrangler = spawnManaged(
      "wrangler dev",
      process.execPath,
      [repoPath("node_modules/wrangler/bin/wrangler.js"), ...args, ...(options.wranglerArgs ?? [])],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
        echo: options.echo,
      },
    );
    stops.push(() => wrangler.stop(5000));
    const url = `http://127.0.0.1:${port}`;
    await waitUntil(
      `wrangler dev answers ${url}/healthz`,
      () => fetch(`${url}/healthz`).then((r) => r.status === 200),
      { timeoutMs: 90_000, intervalMs: 250, process: wrangler },
    );
    return { url, proxy, redisUrl: redis.url, wrangler, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
