/** @module One way to start each Node part (REST proxy, edge instance, gateway) as a child process: stack, dev loop, tests and bench. */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { freePort, type ManagedProcess, REPO_ROOT, repoPath, spawnManaged, waitUntil } from "../process";

/** The Node parts and their TypeScript entries; `npm run build` writes each as `dist/local/<name>.js`. */
export const NODE_PARTS = {
  "rest-proxy": "local/rest-proxy/cli.ts",
  edge: "local/stack/edge/cli.ts",
  gateway: "local/stack/gateway/cli.ts",
} as const;

export type NodePartName = keyof typeof NODE_PARTS;

/**
 * The Node arguments that run a part: its plain-JS build (`dist/local/<name>.js`) when there is one, so a
 * (re)start under load costs a process start, not a TypeScript transform; otherwise its source through tsx.
 *
 * @example
 * nodeEntry("rest-proxy"); // ["/repo/dist/local/rest-proxy.js"] or ["--import", "tsx", "/repo/local/rest-proxy/cli.ts"]
 */
export function nodeEntry(part: NodePartName): string[] {
  const built = repoPath("dist/local", `${part}.js`);
  return existsSync(built) ? [built] : ["--import", "tsx", repoPath(NODE_PARTS[part])];
}

/**
 * Starts a part as a Node child (its own process group, output kept) and waits for `ready`; stops it and
 * rejects with its output if it exits or never gets ready.
 *
 * @example
 * const edge = await startNodePart("edge", ["--port", "9001"], { INSTANCE_ID: "edge-1" }, () => answers(url));
 */
export async function startNodePart(
  part: NodePartName,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: () => Promise<boolean>,
  name: string = part,
): Promise<ManagedProcess> {
  const child = spawnManaged(name, process.execPath, [...nodeEntry(part), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  try {
    await waitUntil(`${name} ready`, ready, { timeoutMs: 30_000, process: child });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

/** Resolves true when `url` answers with one of `statuses` (any status when omitted). */
function answers(url: string, statuses?: number[]): () => Promise<boolean> {
  return () =>
    fetch(url).then(
      async (r) => {
        await r.arrayBuffer();
        return statuses ? statuses.includes(r.status) : true;
      },
      () => false,
    );
}

/**
 * Resolves true when the proxy on `url` takes `token`: the process answering is the one started with it,
 * not an older proxy still holding the port. (Any answer but 401 will do: 503 while Redis is away.)
 */
function acceptsToken(url: string, token: string): () => Promise<boolean> {
  const init = { method: "POST", headers: { authorization: `Bearer ${token}` }, body: '["PING"]' };
  return () =>
    fetch(url, init).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status !== 401;
      },
      () => false,
    );
}

/** A REST proxy child process. */
export interface ProxyProcess {
  url: string;
  port: number;
  token: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface ProxyProcessOptions {
  /** One Redis (`--redis`); excludes `redisCluster`. */
  redisUrl?: string;
  /** Seed nodes of a Redis Cluster (`--redis-cluster`). */
  redisCluster?: string[];
  /** Default: a free port. */
  port?: number;
  /** Default: 24 random bytes, hex. Handed over in `PROXY_TOKEN`, never on argv, so `ps` does not show it. */
  token?: string;
  /** More proxy flags, e.g. `["--refuse-script-time"]`. */
  args?: string[];
  /**
   * `--upstash-semantics` (default true): the local stack, the dev loop, the tests and the benchmarks all
   * run the proxy with Upstash's script rules, so what would break on Upstash breaks here first.
   */
  upstashSemantics?: boolean;
  /**
   * `listening` (default): any answer from `/healthz` (503 while Redis is away); `redis`: 200, Redis is
   * connected (in cluster mode: the slot map is loaded).
   */
  ready?: "listening" | "redis";
}

/**
 * Starts the REST proxy (`npm run proxy`) as its own process on loopback and waits until it is ready.
 *
 * @example
 * const proxy = await startProxyProcess({ redisUrl: redis.url, ready: "redis" });
 * const client = new Redis({ url: proxy.url, token: proxy.token }); // from "@upstash/redis"
 * await proxy.stop();
 */
export async function startProxyProcess(options: ProxyProcessOptions): Promise<ProxyProcess> {
  if ((options.redisUrl === undefined) === (options.redisCluster === undefined)) {
    throw new Error("startProxyProcess: pass exactly one of redisUrl and redisCluster");
  }
  const port = options.port ?? (await freePort());
  const token = options.token ?? randomBytes(24).toString("hex");
  const url = `http://127.0.0.1:${port}`;
  const target = options.redisCluster
    ? ["--redis-cluster", options.redisCluster.join(",")]
    : ["--redis", options.redisUrl as string];
  const semantics = options.upstashSemantics === false ? [] : ["--upstash-semantics"];
  const args = ["--port", String(port), ...target, ...semantics, ...(options.args ?? [])];
  const healthy = answers(`${url}/healthz`, options.ready === "redis" ? [200] : undefined);
  const ours = acceptsToken(url, token);
  const ready = async () => (await ours()) && (await healthy());
  const child = await startNodePart("rest-proxy", args, { PROXY_TOKEN: token }, ready);
  return { url, port, token, process: child, stop: () => child.stop() };
}

/** An edge instance (`local/stack/edge/cli.ts`: the bundled worker in workerd) as its own process. */
export interface EdgeProcess {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts one edge instance as a process with `bindings` in its environment and waits until its
 * `/healthz` answers 200.
 *
 * @example
 * const edge = await startEdgeProcess({ bindings: { UPSTASH_REDIS_REST_URL: proxy.url, UPSTASH_REDIS_REST_TOKEN: proxy.token } });
 * await edge.stop();
 */
export async function startEdgeProcess(options: {
  bindings: Record<string, string | undefined>;
  port?: number;
  name?: string;
}): Promise<EdgeProcess> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = await startNodePart(
    "edge",
    ["--port", String(port)],
    options.bindings,
    answers(`${url}/healthz`, [200]),
    options.name ?? "edge",
  );
  return { url, port, process: child, stop: () => child.stop() };
}
