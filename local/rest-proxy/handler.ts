/** @module The proxy's request routing: JSON commands, path-style commands, SSE subscriptions, health; auth and the per-request deadline. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Answer, Executor } from "./execute";
import { readBody, sendAnswer, sendError, sendJson } from "./http";
import type { ResolvedProxyOptions } from "./options";
import { parsePathCommand, splitUrl } from "./path-commands";
import type { RedisBackend } from "./redis-backend";
import type { StreamHub, StreamKind } from "./sse";
import { type Access, createAccessCheck } from "./tokens";
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
  const routing: Routing = {
    options,
    executor,
    backend,
    hub,
    scripts,
    accessOf: createAccessCheck(options),
    deadlineBody: JSON.stringify({ error: `ERR proxy: Redis did not answer within ${options.timeoutMs} ms` }),
    answers: 0,
  };
  return function handleRequest(req, res) {
    routeRequest(routing, req, res);
  };
}

/** What every route shares, built once per server so a request allocates nothing for it. */
interface Routing {
  readonly options: ResolvedProxyOptions;
  readonly executor: Executor;
  readonly backend: RedisBackend;
  readonly hub: StreamHub;
  readonly scripts: UpstashScripts | null;
  readonly accessOf: (authorization: string | undefined, url: string) => Access | null;
  /** Serialised once: every request past its deadline gets the same body. */
  readonly deadlineBody: string;
  /** Answers given so far; the next `upstash-sync-token` is one more. */
  answers: number;
}

/** The JSON routes Upstash's client uses cost one lookup; anything else goes to the path router. */
function routeRequest(routing: Routing, req: IncomingMessage, res: ServerResponse) {
  const { path, query } = splitUrl(req.url);
  const kind = ROUTES[path];
  if (kind === undefined) return handlePath(routing, req, res, path, query);
  if (req.method !== "POST") {
    return sendError(res, 405, `ERR proxy: method ${req.method} not allowed on ${path}, use POST`, {
      allow: "POST",
    });
  }
  const access = routing.accessOf(req.headers.authorization, req.url ?? "/");
  if (access === null) return sendError(res, 401, "Unauthorized");
  const base64 = isBase64(req);
  withBody(routing, req, res, (body) => {
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString("utf8"));
    } catch {
      return sendError(res, 400, "ERR proxy: the body is not valid JSON");
    }
    answerWithin(routing, res, routing.executor[kind](raw, base64, access === "read"));
  });
}

/** Sends the executor's answer, or a 504 once the deadline passes, whichever comes first. */
function answerWithin(routing: Routing, res: ServerResponse, work: Promise<Answer>): void {
  let answered = false;
  // The backend has its own timeouts; this one also covers time spent queued behind other batches.
  const timer = setTimeout(() => {
    answered = true;
    sendJson(res, 504, routing.deadlineBody);
  }, routing.options.timeoutMs);
  work.then(
    (answer) => {
      if (answered) return;
      clearTimeout(timer);
      sendAnswer(res, answer.status, answer.body, String(++routing.answers));
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

/** Reads the body within --max-body-bytes, answering the 4xx itself when it cannot. */
function withBody(routing: Routing, req: IncomingMessage, res: ServerResponse, use: (body: Buffer) => void) {
  readBody(req, routing.options.maxBodyBytes, (result) => {
    if (result.ok) return use(result.body);
    // After a 413 the connection closes: the client learns it should not send such a body again here.
    sendError(res, result.status, result.error, result.close ? { connection: "close" } : undefined);
  });
}

/** `GET /healthz`: open to all, so load balancers need no token; 503 while Redis is away. */
function handleHealth(routing: Routing, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return sendError(res, 405, `ERR proxy: method ${req.method} not allowed on /healthz, use GET`, {
      allow: "GET, HEAD",
    });
  }
  if (routing.backend.isReady()) sendJson(res, 200, '{"result":"OK"}');
  else sendError(res, 503, "ERR proxy: Redis is not connected");
}

/** `/subscribe/<names>` and `/psubscribe/<patterns>`: checked here, held open by the hub. */
function handleStream(
  routing: Routing,
  req: IncomingMessage,
  res: ServerResponse,
  kind: StreamKind,
  path: string,
) {
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
  routing.hub.open(res, kind, names.value.args, String(++routing.answers));
}

/** A path-style command (`/get/k`, `/set/k/v/EX/100`) or an SSE subscription (`/subscribe/news`). */
function handlePath(
  routing: Routing,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
) {
  if (path === "/healthz") return handleHealth(routing, req, res);
  if (path === "/metrics" && routing.scripts) return sendMetrics(req, res, routing.scripts);
  const method = req.method ?? "GET";
  if (!PATH_COMMAND_METHODS.has(method)) {
    return sendError(res, 405, `ERR proxy: method ${method} not allowed, use GET, HEAD, POST or PUT`, {
      allow: "GET, HEAD, POST, PUT",
    });
  }
  const access = routing.accessOf(req.headers.authorization, req.url ?? "/");
  if (access === null) return sendError(res, 401, "Unauthorized");
  const slash = path.indexOf("/", 1);
  const stream = STREAMS[(slash === -1 ? path.slice(1) : path.slice(1, slash)).toLowerCase()];
  if (stream !== undefined) return handleStream(routing, req, res, stream, path);
  const base64 = isBase64(req);
  withBody(routing, req, res, (body) => {
    const withValue = method === "POST" || method === "PUT" ? body : null;
    const parsed = parsePathCommand(path, query, withValue);
    if (!parsed.ok) return sendError(res, 400, parsed.error);
    answerWithin(routing, res, routing.executor.command(parsed.value, base64, access === "read"));
  });
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

/** `upstash-encoding: base64` asks for binary-safe replies; any other value means plain JSON strings. */
function isBase64(req: IncomingMessage): boolean {
  return req.headers["upstash-encoding"]?.toString().toLowerCase() === "base64";
}
