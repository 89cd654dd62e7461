/** @module The proxy's request routing: JSON commands, path-style commands, SSE subscriptions, health; auth and the per-request deadline. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Answer, Executor } from "./execute";
import { readBody, sendAnswer, sendError, sendJson } from "./http";
import type { ResolvedProxyOptions } from "./options";
import { parsePathCommand, splitUrl } from "./path-commands";
import type { RedisBackend } from "./redis-backend";
import type { StreamHub, StreamKind } from "./sse";
import { createAccessCheck } from "./tokens";
import type { UpstashScripts } from "./upstash-scripts";

type Kind = "single" | "pipeline" | "multiExec";

// Without a prototype: a path such as `/constructor` must not find Object's members.
const ROUTES: Record<string, Kind> = Object.assign(Object.create(null), {
  "/": "single",
  "/pipeline": "pipeline",
  "/multi-exec": "multiExec",
});
const STREAMS: Record<string, StreamKind> = Object.assign(Object.create(null), {
  subscribe: "subscribe",
  psubscribe: "psubscribe",
});
const PATH_COMMAND_METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);

/**
 * Builds the request handler. `POST /`, `/pipeline` and `/multi-exec` (what `@upstash/redis` sends) are
 * matched first and cost one lookup; everything else is a path-style command or an SSE subscription.
 * Every command answer carries `upstash-sync-token`: a number that grows with every answer this process
 * gives. One Redis (or the master of a key's slot) has already applied every write the proxy answered,
 * so a later request reads it; the token only has to change for clients that track it.
 *
 * @example
 * const server = createServer(createHandler(settings, executor, backend, hub));
 */
export function createHandler(
  options: ResolvedProxyOptions,
  executor: Executor,
  backend: RedisBackend,
  hub: StreamHub,
  scripts: UpstashScripts | null = null,
): (req: IncomingMessage, res: ServerResponse) => void {
  const accessOf = createAccessCheck(options);
  const deadlineBody = JSON.stringify({
    error: `ERR proxy: Redis did not answer within ${options.timeoutMs} ms`,
  });
  let answers = 0;

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
        sendAnswer(res, answer.status, answer.body, String(++answers));
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

  function withBody(req: IncomingMessage, res: ServerResponse, use: (body: Buffer) => void) {
    readBody(req, options.maxBodyBytes, (result) => {
      if (result.ok) return use(result.body);
      // After a 413 the connection closes: the client learns it should not send such a body again here.
      sendError(res, result.status, result.error, result.close ? { connection: "close" } : undefined);
    });
  }

  function handleHealth(req: IncomingMessage, res: ServerResponse) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return sendError(res, 405, `ERR proxy: method ${req.method} not allowed on /healthz, use GET`, {
        allow: "GET, HEAD",
      });
    }
    if (backend.isReady()) sendJson(res, 200, '{"result":"OK"}');
    else sendError(res, 503, "ERR proxy: Redis is not connected");
  }

  function handleStream(req: IncomingMessage, res: ServerResponse, kind: StreamKind, path: string) {
    if (req.method !== "GET" && req.method !== "POST") {
      return sendError(res, 405, `ERR proxy: method ${req.method} not allowed on /${kind}, use GET or POST`, {
        allow: "GET, POST",
      });
    }
    const names = parsePathCommand(path, "", null);
    if (!names.ok) return sendError(res, 400, names.error);
    if (names.value.args.length === 0) {
      return sendError(res, 400, `ERR proxy: name a channel or pattern: /${kind}/<name>`);
    }
    // The client POSTs `[]`; nothing in a body matters here.
    req.resume();
    hub.open(res, kind, names.value.args, String(++answers));
  }

  /** A path-style command (`/get/k`, `/set/k/v/EX/100`) or an SSE subscription (`/subscribe/news`). */
  function handlePath(req: IncomingMessage, res: ServerResponse, path: string, query: string) {
    if (path === "/healthz") return handleHealth(req, res);
    if (path === "/metrics" && scripts) return sendMetrics(req, res, scripts);
    const method = req.method ?? "GET";
    if (!PATH_COMMAND_METHODS.has(method)) {
      return sendError(res, 405, `ERR proxy: method ${method} not allowed, use GET, HEAD, POST or PUT`, {
        allow: "GET, HEAD, POST, PUT",
      });
    }
    const access = accessOf(req.headers.authorization, req.url ?? "/");
    if (access === null) return sendError(res, 401, "Unauthorized");
    const slash = path.indexOf("/", 1);
    const stream = STREAMS[(slash === -1 ? path.slice(1) : path.slice(1, slash)).toLowerCase()];
    if (stream !== undefined) return handleStream(req, res, stream, path);
    const base64 = isBase64(req);
    withBody(req, res, (body) => {
      const withValue = method === "POST" || method === "PUT" ? body : null;
      const parsed = parsePathCommand(path, query, withValue);
      if (!parsed.ok) return sendError(res, 400, parsed.error);
      answerWithin(res, executor.command(parsed.value, base64, access === "read"));
    });
  }

  return function handleRequest(req, res) {
    const { path, query } = splitUrl(req.url);
    const kind = ROUTES[path];
    if (kind === undefined) return handlePath(req, res, path, query);
    if (req.method !== "POST") {
      return sendError(res, 405, `ERR proxy: method ${req.method} not allowed on ${path}, use POST`, {
        allow: "POST",
      });
    }
    const access = accessOf(req.headers.authorization, req.url ?? "/");
    if (access === null) return sendError(res, 401, "Unauthorized");
    const base64 = isBase64(req);
    withBody(req, res, (body) => {
      let raw: unknown;
      try {
        raw = JSON.parse(body.toString("utf8"));
      } catch {
        return sendError(res, 400, "ERR proxy: the body is not valid JSON");
      }
      answerWithin(res, executor[kind](raw, base64, access === "read"));
    });
  };
}

/** `GET /metrics` with --upstash-semantics: the script calls by lock, no token needed (counts only). */
function sendMetrics(req: IncomingMessage, res: ServerResponse, scripts: UpstashScripts): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendError(res, 405, `ERR proxy: method ${req.method} not allowed on /metrics, use GET`, {
      allow: "GET, HEAD",
    });
    return;
  }
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
  res.end(req.method === "HEAD" ? undefined : scripts.metrics());
}

function isBase64(req: IncomingMessage): boolean {
  return req.headers["upstash-encoding"]?.toString().toLowerCase() === "base64";
}
