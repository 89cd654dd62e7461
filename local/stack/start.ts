/** @module The local stack: Redis → REST proxy → N workerd edge instances → NGINX, supervised, on loopback. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_POLICIES, type PoliciesDocument } from "../../workers/policies";
import {
  claimPorts,
  freePort,
  type ManagedProcess,
  pingRedis,
  type RedisCluster,
  startEdgeProcess,
  startProxyProcess,
  startRedis,
  startRedisCluster,
  waitUntil,
} from "../support";
import { startDemoServer, withDemo } from "../tools";
import { startNginx } from "./gateway";
import { type PartStatus, Supervisor } from "./supervisor";

export interface StackOptions {
  /** NGINX's port (default 8080; 0 = a free port). */
  port?: number;
  /** workerd instances behind NGINX (default 3). */
  instances?: number;
  /** The policies document as JSON text (validated by the caller); the worker's default when absent. */
  policies?: string;
  upstream?: string;
  checkToken?: string;
  /** Use this Redis instead of starting one. */
  redisUrl?: string;
  /** Start a local Redis Cluster (3 masters, 1 replica each) instead of one Redis; excludes `redisUrl`. */
  redisCluster?: boolean;
  /** The REST proxy's port (default: a free one). */
  proxyPort?: number;
  /** Limiting off: the same stack answering without Redis calls (benchmark baseline). */
  limitingOff?: boolean;
  /** Serve the backoff demo page on this port (0 = a free one); its routes and origin join the policies. */
  demoPort?: number;
  log?: (line: string) => void;
  /** Called when a part keeps dying; the stack is already stopping. */
  onFatal?: (reason: string) => void;
}

export interface Stack {
  url: string;
  /** The demo page, when `demoPort` was given. */
  demoUrl: string | null;
  proxyUrl: string;
  /** The Redis URL, or in cluster mode the seed URLs joined with commas (what the proxy was given). */
  redisUrl: string;
  /** The local cluster in cluster mode (roles, kill/restart for tests), otherwise null. */
  cluster: RedisCluster | null;
  edgeUrls: string[];
  supervisor: Supervisor;
  status(): PartStatus[];
  stop(): Promise<void>;
}

async function portFor(wanted: number | undefined, fallback: number): Promise<number> {
  const port = wanted ?? fallback;
  return port === 0 ? freePort() : port;
}

/**
 * Hands the already running cluster nodes to the supervisor. A node that dies is started again on its
 * port and config file once the cluster has replaced it, so it rejoins as a replica of the promoted node.
 * Restarted at once, a master (persistence is off) would come back empty, still owning its slots, and
 * its replica would copy the empty data set: every bucket on it would restart full.
 */
async function superviseClusterNodes(supervisor: Supervisor, cluster: RedisCluster): Promise<void> {
  for (const [i, node] of cluster.nodes.entries()) {
    let first: ManagedProcess | null = node.process;
    await supervisor.add({
      name: `redis-${i + 1}`,
      address: `127.0.0.1:${node.port}`,
      async start() {
        const running = first;
        first = null;
        if (running) return running;
        await cluster.waitReplaced(node.port);
        return cluster.restartNode(node.port);
      },
    });
  }
}

const answers = (url: string) => () =>
  fetch(url)
    .then((r) => r.status === 200)
    .catch(() => false);

/**
 * Starts the whole local topology and supervises it. Resolves when NGINX serves `/healthz`.
 *
 * @example
 * const stack = await startStack({ port: 0, instances: 3, log: console.log });
 * await fetch(`${stack.url}/anything`, { headers: {} });
 * await stack.stop();
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => undefined);
  const instances = options.instances ?? 3;
  const runDir = await mkdtemp(join(tmpdir(), "edge-rate-limiter-"));
  let stopped: Promise<void> | undefined;
  let cluster: RedisCluster | null = null;
  const supervisor = new Supervisor(log, (reason) => {
    log(`stack: ${reason}; stopping`);
    void stop().then(() => options.onFatal?.(reason));
  });
  let stopDemo: (() => Promise<void>) | undefined;
  const stop = () => {
    stopped ??= (async function stopStack() {
      await stopDemo?.();
      await supervisor.stopAll();
      await cluster?.stop();
      await rm(runDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    if (options.redisCluster && options.redisUrl)
      throw new Error("redisCluster and redisUrl exclude each other");
    // Every port that was asked for, before anything starts: a taken one is an error, not a restart loop.
    const free = await claimPorts([
      { port: options.port ?? 8080, flag: "--port" },
      { port: options.proxyPort ?? 0, flag: "--proxy-port" },
      { port: options.demoPort ?? 0, flag: "--demo-port" },
    ]);
    if (!free.ok) throw new Error(free.error);
    let redisUrl = options.redisUrl;
    if (options.redisCluster) {
      cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
      await superviseClusterNodes(supervisor, cluster);
      redisUrl = cluster.seeds.join(",");
    } else if (!redisUrl) {
      const redisPort = await freePort();
      redisUrl = `redis://127.0.0.1:${redisPort}`;
      await supervisor.add({
        name: "redis",
        address: `127.0.0.1:${redisPort}`,
        start: async () => (await startRedis({ port: redisPort })).process,
      });
    } else if (!(await pingRedis(Number(new URL(redisUrl).port || 6379), new URL(redisUrl).hostname))) {
      throw new Error(`--redis-url ${redisUrl}: no Redis answers PING there`);
    }

    const proxyPort = await portFor(options.proxyPort, 0);
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    const proxyToken = randomBytes(24).toString("hex");
    await supervisor.add({
      name: "rest-proxy",
      address: `127.0.0.1:${proxyPort}`,
      start: async () => {
        const target = cluster ? { redisCluster: cluster.seeds } : { redisUrl };
        return (await startProxyProcess({ ...target, port: proxyPort, token: proxyToken })).process;
      },
    });

    let policies = options.policies;
    const demoPort = options.demoPort === undefined ? null : await portFor(options.demoPort, 8081);
    if (demoPort !== null) {
      const document = (policies ? JSON.parse(policies) : DEFAULT_POLICIES) as PoliciesDocument;
      policies = JSON.stringify(withDemo(document, `http://127.0.0.1:${demoPort}`));
    }

    const edgePorts: number[] = [];
    for (let i = 1; i <= instances; i++) {
      const port = await freePort();
      edgePorts.push(port);
      const bindings = {
        INSTANCE_ID: `edge-${i}`,
        UPSTASH_REDIS_REST_URL: proxyUrl,
        UPSTASH_REDIS_REST_TOKEN: proxyToken,
        POLICIES: policies ?? "",
        UPSTREAM_URL: options.upstream ?? "",
        CHECK_API_TOKEN: options.checkToken ?? "",
        RATE_LIMIT_DISABLED: options.limitingOff ? "true" : "",
      };
      await supervisor.add({
        name: `edge-${i}`,
        address: `127.0.0.1:${port}`,
        start: async () => (await startEdgeProcess({ bindings, port, name: `edge-${i}` })).process,
      });
    }

    const port = await portFor(options.port, 8080);
    await supervisor.add({
      name: "nginx",
      address: `127.0.0.1:${port}`,
      start: () =>
        startNginx({ listen: `127.0.0.1:${port}`, edges: edgePorts.map((p) => `127.0.0.1:${p}`), runDir }),
    });
    const url = `http://127.0.0.1:${port}`;
    // Ready means every part is the process this stack started and is still running (not one that died
    // while an older process on its port answered), and the gateway answers through them.
    const ready = async () => supervisor.allRunning() && (await answers(`${url}/healthz`)());
    await waitUntil("every part runs and the stack answers /healthz through NGINX", ready, {
      timeoutMs: 15_000,
    });
    const demo = demoPort === null ? null : await startDemoServer({ apiUrl: url, port: demoPort });
    stopDemo = demo?.stop;

    return {
      url,
      demoUrl: demo ? `${demo.url}/` : null,
      proxyUrl,
      redisUrl,
      cluster,
      edgeUrls: edgePorts.map((p) => `http://127.0.0.1:${p}`),
      supervisor,
      status: () => supervisor.status(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
