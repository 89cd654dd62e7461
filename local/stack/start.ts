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
  const runDir = await mkdtemp(join(tmpdir(), "edge-rate-limiter-"));
  const launch: Launch = {
    options,
    runDir,
    supervisor: new Supervisor(log, (reason) => {
      log(`stack: ${reason}; stopping`);
      void stop().then(() => options.onFatal?.(reason));
    }),
    cluster: null,
    stopDemo: undefined,
    stopped: undefined,
  };
  const stop = () => stopStack(launch);

  try {
    const redisUrl = await startStore(launch);
    const proxy = await addProxy(launch, redisUrl);
    const demoPort = options.demoPort === undefined ? null : await portFor(options.demoPort, 8081);
    const edgePorts = await addEdges(launch, proxy, policiesWithDemo(options.policies, demoPort));
    const url = await addGateway(launch, edgePorts);
    const demo = demoPort === null ? null : await startDemoServer({ apiUrl: url, port: demoPort });
    launch.stopDemo = demo?.stop;

    return {
      url,
      demoUrl: demo ? `${demo.url}/` : null,
      proxyUrl: proxy.url,
      redisUrl,
      cluster: launch.cluster,
      edgeUrls: edgePorts.map((p) => `http://127.0.0.1:${p}`),
      supervisor: launch.supervisor,
      status: () => launch.supervisor.status(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What the start-up steps share, so a failure at any step can stop what the earlier ones started. */
interface Launch {
  readonly options: StackOptions;
  /** NGINX's config and temp files; removed on stop. */
  readonly runDir: string;
  readonly supervisor: Supervisor;
  cluster: RedisCluster | null;
  stopDemo: (() => Promise<void>) | undefined;
  /** Set by the first stop; later calls wait on the same one. */
  stopped: Promise<void> | undefined;
}

/** Stops once, however often it is called: a fatal part and the caller may both ask. */
function stopStack(launch: Launch): Promise<void> {
  launch.stopped ??= stopInOrder(launch);
  return launch.stopped;
}

/** The demo first (it calls the gateway), the supervised parts (NGINX first), the cluster, the files. */
async function stopInOrder(launch: Launch): Promise<void> {
  await launch.stopDemo?.();
  await launch.supervisor.stopAll();
  await launch.cluster?.stop();
  await rm(launch.runDir, { recursive: true, force: true });
}

/**
 * Checks the options and ports, then starts the Redis (or cluster) the stack owns, or checks the one it
 * was given; returns the URL (cluster: the seeds joined with commas) the proxy is given.
 */
async function startStore(launch: Launch): Promise<string> {
  const { options, supervisor } = launch;
  if (options.redisCluster && options.redisUrl)
    throw new Error("redisCluster and redisUrl exclude each other");
  // Every port that was asked for, before anything starts: a taken one is an error, not a restart loop.
  const free = await claimPorts([
    { port: options.port ?? 8080, flag: "--port" },
    { port: options.proxyPort ?? 0, flag: "--proxy-port" },
    { port: options.demoPort ?? 0, flag: "--demo-port" },
  ]);
  if (!free.ok) throw new Error(free.error);
  if (options.redisCluster) {
    launch.cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    await superviseClusterNodes(supervisor, launch.cluster);
    return launch.cluster.seeds.join(",");
  }
  const given = options.redisUrl;
  if (given) {
    if (!(await pingRedis(Number(new URL(given).port || 6379), new URL(given).hostname))) {
      throw new Error(`--redis-url ${given}: no Redis answers PING there`);
    }
    return given;
  }
  const redisPort = await freePort();
  await supervisor.add({
    name: "redis",
    address: `127.0.0.1:${redisPort}`,
    start: async () => (await startRedis({ port: redisPort })).process,
  });
  return `redis://127.0.0.1:${redisPort}`;
}

/** The proxy, with a fresh token per run, so only this stack's edges can use it. */
async function addProxy(launch: Launch, redisUrl: string): Promise<{ url: string; token: string }> {
  const port = await portFor(launch.options.proxyPort, 0);
  const token = randomBytes(24).toString("hex");
  await launch.supervisor.add({
    name: "rest-proxy",
    address: `127.0.0.1:${port}`,
    start: async () => {
      const target = launch.cluster ? { redisCluster: launch.cluster.seeds } : { redisUrl };
      return (await startProxyProcess({ ...target, port, token })).process;
    },
  });
  return { url: `http://127.0.0.1:${port}`, token };
}

/** The policies the edges get: the demo's routes and origin joined in when the demo runs. */
function policiesWithDemo(policies: string | undefined, demoPort: number | null): string | undefined {
  if (demoPort === null) return policies;
  const document = (policies ? JSON.parse(policies) : DEFAULT_POLICIES) as PoliciesDocument;
  return JSON.stringify(withDemo(document, `http://127.0.0.1:${demoPort}`));
}

/** The workerd edges, each on a free port; returns the ports for NGINX's upstream list. */
async function addEdges(
  launch: Launch,
  proxy: { url: string; token: string },
  policies: string | undefined,
): Promise<number[]> {
  const { options } = launch;
  const instances = options.instances ?? 3;
  const edgePorts: number[] = [];
  for (let i = 1; i <= instances; i++) {
    const port = await freePort();
    edgePorts.push(port);
    const bindings = {
      INSTANCE_ID: `edge-${i}`,
      UPSTASH_REDIS_REST_URL: proxy.url,
      UPSTASH_REDIS_REST_TOKEN: proxy.token,
      POLICIES: policies ?? "",
      UPSTREAM_URL: options.upstream ?? "",
      CHECK_API_TOKEN: options.checkToken ?? "",
      RATE_LIMIT_DISABLED: options.limitingOff ? "true" : "",
    };
    await launch.supervisor.add({
      name: `edge-${i}`,
      address: `127.0.0.1:${port}`,
      start: async () => (await startEdgeProcess({ bindings, port, name: `edge-${i}` })).process,
    });
  }
  return edgePorts;
}

/** NGINX in front of the edges; resolves with its URL once every part runs and it answers through them. */
async function addGateway(launch: Launch, edgePorts: number[]): Promise<string> {
  const { supervisor } = launch;
  const port = await portFor(launch.options.port, 8080);
  await supervisor.add({
    name: "nginx",
    address: `127.0.0.1:${port}`,
    start: () =>
      startNginx({
        listen: `127.0.0.1:${port}`,
        edges: edgePorts.map((p) => `127.0.0.1:${p}`),
        runDir: launch.runDir,
      }),
  });
  const url = `http://127.0.0.1:${port}`;
  // Ready means every part is the process this stack started and is still running (not one that died
  // while an older process on its port answered), and the gateway answers through them.
  const ready = async () => supervisor.allRunning() && (await answers(`${url}/healthz`)());
  await waitUntil("every part runs and the stack answers /healthz through NGINX", ready, {
    timeoutMs: 15_000,
  });
  return url;
}
