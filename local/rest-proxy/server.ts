/** @module The proxy's HTTP server: wiring the backend, executor and routes together, listening, graceful shutdown. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Result } from "../../workers/result";
import { createClusterBackend } from "./cluster-backend";
import { createExecutor } from "./execute";
import { createHandler } from "./handler";
import { type ProxyOptions, type ResolvedProxyOptions, resolveProxyOptions } from "./options";
import { createRedisBackend, type RedisBackend } from "./redis-backend";
import { createStreamHub, type StreamHub } from "./sse";
import { createUpstashScripts } from "./upstash-scripts";

/** A proxy that is listening. */
export interface RunningProxy {
  /** Base URL clients use, e.g. `http://127.0.0.1:8079` (the `url` option of `@upstash/redis`). */
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish (bounded), then closes the Redis connections. */
  close(): Promise<void>;
}

/** A proxy built but not yet listening. */
export interface ProxyServer {
  server: Server;
  listen(): Promise<RunningProxy>;
  close(): Promise<void>;
}

// The proxy listens once Redis is connected, or its first attempt failed, or after this long, whichever
// comes first; until Redis answers, requests get 503 JSON.
const STARTUP_REDIS_WAIT_MS = 1000;
/** The kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 65_535;

/**
 * Builds the proxy (validating options first) without listening yet.
 *
 * @example
 * const built = createProxyServer({ redisUrl: "redis://127.0.0.1:6379", token: "t", port: 0 });
 * if (built.ok) { const proxy = await built.value.listen(); console.log(proxy.url); }
 */
export function createProxyServer(options: ProxyOptions): Result<ProxyServer> {
  const resolved = resolveProxyOptions(options);
  if (!resolved.ok) return resolved;
  const settings = resolved.value;
  const backend = createBackend(settings);
  const scripts = settings.upstashSemantics
    ? createUpstashScripts({ log: settings.log, refuseTime: settings.refuseScriptTime })
    : null;
  const executor = createExecutor(backend, { ...settings, scripts });
  const hub = createStreamHub(() => backend.subscriber(), {
    maxStreams: settings.maxStreams,
    timeoutMs: settings.timeoutMs,
  });
  const handler = createHandler(settings, executor, backend, hub, scripts);
  const server = createServer({ keepAliveTimeout: 65_000 }, handler);
  const proxy: Proxy = { settings, backend, hub, server, closing: null };
  const close = (): Promise<void> => closeProxy(proxy);
  return { ok: true, value: { server, listen: () => listenProxy(proxy, close), close } };
}

/** One proxy's parts, as its listen and close need them. */
interface Proxy {
  readonly settings: ResolvedProxyOptions;
  readonly backend: RedisBackend;
  readonly hub: StreamHub;
  readonly server: Server;
  /** Set by the first close, so every later call waits on the same shutdown. */
  closing: Promise<void> | null;
}

/** A single Redis or a cluster, behind the same interface, so nothing else needs to know which. */
function createBackend(settings: ResolvedProxyOptions): RedisBackend {
  return settings.cluster
    ? createClusterBackend(settings.cluster, { timeoutMs: settings.timeoutMs, log: settings.log })
    : createRedisBackend(settings.redisUrl, {
        timeoutMs: settings.timeoutMs,
        sharedConnections: settings.redisConnections,
        log: settings.log,
      });
}

/** Shuts down once, however often it is called: streams, then HTTP, then Redis. */
function closeProxy(proxy: Proxy): Promise<void> {
  proxy.closing ??= shutDown(proxy);
  return proxy.closing;
}

/** The shutdown order matters: Redis closes last, so requests still in flight get their answers. */
async function shutDown(proxy: Proxy): Promise<void> {
  const { server, settings } = proxy;
  // Streams never finish on their own: end them first, so their sockets count as idle below.
  proxy.hub.closeAll();
  if (server.listening) {
    await new Promise<void>((resolve) => {
      // Idle keep-alive sockets are closed right away and busy ones as soon as their answer is sent;
      // whatever is still open after the grace period (a stalled upload) is cut.
      const sweep = setInterval(() => server.closeIdleConnections(), 20);
      const cut = setTimeout(() => server.closeAllConnections(), settings.timeoutMs + 2000);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(cut);
        resolve();
      });
    });
  }
  await proxy.backend.close();
}

/** Listens without waiting on Redis; resolves once the port is ours, rejects if it is taken. */
async function listenProxy(proxy: Proxy, close: () => Promise<void>): Promise<RunningProxy> {
  const { server, settings } = proxy;
  // Listen at once, Redis or not: a caller gets a 503 JSON answer it understands rather than a refused
  // connection, and a launcher sees the proxy up (and its port ours) without waiting on Redis.
  void proxy.backend.waitReady(STARTUP_REDIS_WAIT_MS).then((ready) => {
    if (!ready && !proxy.closing)
      settings.log("rest-proxy: Redis is not reachable yet; answering 503 until it is");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // Every edge opens a connection per concurrent decision: a burst of a thousand overflows Node's
    // default backlog (511), and a dropped SYN is retried only after a second: a silent store to the edge.
    server.listen({ port: settings.port, host: settings.host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = settings.host.includes(":") ? `[${settings.host}]` : settings.host;
  return { url: `http://${host}:${port}`, port, close };
}

/**
 * Validates options, connects to Redis and listens; throws on invalid options or a busy port.
 *
 * @example
 * const proxy = await startProxy({ redisUrl: redis.url, token: "secret", port: 0 });
 * // or, on a Redis Cluster: startProxy({ redisCluster: cluster.seeds, token: "secret", port: 0 })
 * const client = new Redis({ url: proxy.url, token: "secret" }); // from "@upstash/redis"
 * await proxy.close();
 */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const built = createProxyServer(options);
  if (!built.ok) throw new Error(built.error);
  try {
    return await built.value.listen();
  } catch (error) {
    await built.value.close();
    throw error;
  }
}
