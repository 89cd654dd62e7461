/** @module The proxy's HTTP server: routing, auth, body limits, per-request deadline, graceful shutdown. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createClusterBackend } from "./cluster-backend";
import { type Answer, createExecutor, type Executor } from "./execute";
import { createTokenCheck, readBody, sendError, sendJson } from "./http";
import { type ProxyOptions, type ResolvedProxyOptions, resolveProxyOptions } from "./options";
import { createRedisBackend, type RedisBackend } from "./redis-backend";

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

type Kind = "single" | "pipeline" | "multiExec";

const ROUTES: Record<string, Kind> = { "/": "single", "/pipeline": "pipeline", "/multi-exec": "multiExec" };

// How long Redis gets to come up before the proxy listens anyway (requests meanwhile get 503 JSON).
const STARTUP_REDIS_WAIT_MS = 5000;
/** The kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 65_535;

function pathOf(url: string | undefined): string {
  const raw = url ?? "/";
  const query = raw.indexOf("?");
  return query === -1 ? raw : raw.slice(0, query);
}

function createHandler(
  options: ResolvedProxyOptions,
  executor: Executor,
  backend: RedisBackend,
): (req: IncomingMessage, res: ServerResponse) => void {
  const isAuthorized = createTokenCheck(options.token);
  const deadlineBody = JSON.stringify({
    error: `ERR proxy: Redis did not answer within ${options.timeoutMs} ms`,
  });

  function answerWithin(res: ServerResponse, work: Promise<Answer>): void {
    let answered = false;
    // The backend has its own timeouts; this one also covers time spent queued behind other batches.
    const timer = setTimeout(() => {
      answered = true;
      sendJson(res, 504, deadlineBody);
    }, options.timeoutMs);
    work.then(
      (answer) => {
        if (answered) return;
        clearTimeout(timer);
        sendJson(res, answer.status, answer.body);
      },
      (error: unknown) => {
        if (answered) return;
        clearTimeout(timer);
        sendError(
          res,
          500,
          `ERR proxy: internal error: ${error instanceof Error ? error.message : String(error)}`,
        );
      },
    );
  }

  function handleHealth(res: ServerResponse): void {
    if (backend.isReady()) sendJson(res, 200, '{"result":"OK"}');
    else sendError(res, 503, "ERR proxy: Redis is not connected");
  }

  return function handleRequest(req, res) {
    const path = pathOf(req.url);
    const kind = ROUTES[path];
    if (kind === undefined) {
      if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) return handleHealth(res);
      return sendError(res, 404, `ERR proxy: unknown path ${path} (use POST /, /pipeline or /multi-exec)`);
    }
    if (req.method !== "POST") {
      return sendError(res, 405, `ERR proxy: method ${req.method} not allowed on ${path}, use POST`, {
        allow: "POST",
      });
    }
    if (!isAuthorized(req.headers.authorization)) return sendError(res, 401, "Unauthorized");
    const base64 = req.headers["upstash-encoding"]?.toString().toLowerCase() === "base64";
    readBody(req, options.maxBodyBytes, (result) => {
      if (!result.ok) {
        // Closing after a 413 stops the client from streaming the rest of an oversized body at us.
        const headers: Record<string, string> | undefined =
          result.status === 413 ? { connection: "close" } : undefined;
        return sendError(res, result.status, result.error, headers);
      }
      let raw: unknown;
      try {
        raw = JSON.parse(result.body.toString("utf8"));
      } catch {
        return sendError(res, 400, "ERR proxy: the body is not valid JSON");
      }
      answerWithin(res, executor[kind](raw, base64));
    });
  };
}

/**
 * Builds the proxy (validating options first) without listening yet.
 *
 * @example
 * const built = createProxyServer({ redisUrl: "redis://127.0.0.1:6379", token: "t", port: 0 });
 * if (built.ok) { const proxy = await built.value.listen(); console.log(proxy.url); }
 */
export function createProxyServer(
  options: ProxyOptions,
): { ok: true; value: ProxyServer } | { ok: false; error: string } {
  const resolved = resolveProxyOptions(options);
  if (!resolved.ok) return resolved;
  const settings = resolved.value;
  const backend = settings.cluster
    ? createClusterBackend(settings.cluster, { timeoutMs: settings.timeoutMs, log: settings.log })
    : createRedisBackend(settings.redisUrl, {
        timeoutMs: settings.timeoutMs,
        sharedConnections: settings.redisConnections,
        log: settings.log,
      });
  const executor = createExecutor(backend, settings);
  const server = createServer({ keepAliveTimeout: 65_000 }, createHandler(settings, executor, backend));
  let closing: Promise<void> | null = null;

  function close(): Promise<void> {
    closing ??= (async () => {
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
      await backend.close();
    })();
    return closing;
  }

  async function listen(): Promise<RunningProxy> {
    if (!(await backend.waitReady(STARTUP_REDIS_WAIT_MS))) {
      settings.log("rest-proxy: Redis is not reachable yet; answering 503 until it is");
    }
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

  return { ok: true, value: { server, listen, close } };
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
