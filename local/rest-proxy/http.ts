/** @module HTTP plumbing for the proxy: JSON answers, the bearer-token check and a size-limited body reader. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createAccessCheck } from "./tokens";

/**
 * Ends `res` with a JSON body that is already serialised (the hot path builds it by concatenation).
 *
 * @example
 * sendJson(res, 200, '{"result":"OK"}');
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers?: Record<string, string>,
): void {
  if (res.headersSent) return;
  const length = Buffer.byteLength(body);
  if (headers === undefined)
    res.writeHead(status, ["content-type", "application/json", "content-length", String(length)]);
  else res.writeHead(status, { "content-type": "application/json", "content-length": length, ...headers });
  res.end(body);
}

/**
 * Ends `res` with `{"error": message}`.
 *
 * @example
 * sendError(res, 401, "Unauthorized");
 */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers?: Record<string, string>,
) {
  sendJson(res, status, JSON.stringify({ error: message }), headers);
}

/**
 * The bearer-token check alone (no read-only token, no `?_token=`): true only for the full token.
 * See `createAccessCheck` in tokens.ts for what the server uses.
 *
 * @example
 * const authorized = createTokenCheck("s3cret");
 * authorized("Bearer s3cret"); // true
 */
export function createTokenCheck(token: string | null): (header: string | undefined) => boolean {
  const accessOf = createAccessCheck({ token, readOnlyToken: null });
  return (header) => accessOf(header ?? "", "/") === "full";
}

/**
 * Ends `res` with a command's JSON answer and the `upstash-sync-token` header (read-your-writes).
 *
 * @example
 * sendAnswer(res, 200, '{"result":"OK"}', "42");
 */
export function sendAnswer(res: ServerResponse, status: number, body: string, syncToken: string): void {
  if (res.headersSent) return;
  res.writeHead(status, [
    "content-type",
    "application/json",
    "content-length",
    String(Buffer.byteLength(body)),
    "upstash-sync-token",
    syncToken,
  ]);
  res.end(body);
}

/** A request body, or the reason there is none. `close`: the connection must close after the answer. */
export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; status: 413 | 400; error: string; close?: boolean };

/** How much of an oversized body is read (and dropped) so the client can read the 413: 8× the limit. */
const DRAIN_FACTOR = 8;

/**
 * Reads the whole body. One larger than `maxBytes` is read to its end and dropped, and only then answered
 * with 413: a client such as `fetch` (and so `@upstash/redis`) that is still sending when the answer
 * comes and the socket closes sees EPIPE instead of the JSON error. Past `DRAIN_FACTOR × maxBytes`
 * (declared or counted) the socket is cut without an answer: an upload that large costs neither memory
 * nor much time.
 *
 * @example
 * readBody(req, 1024 * 1024, (result) => { if (result.ok) handle(result.body); });
 */
export function readBody(req: IncomingMessage, maxBytes: number, done: (result: BodyResult) => void): void {
  const drainLimit = maxBytes * DRAIN_FACTOR;
  const declared = Number(req.headers["content-length"]);
  if (declared > drainLimit) {
    req.socket.destroy();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (result: BodyResult) => {
    if (finished) return;
    finished = true;
    done(result);
  };
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > drainLimit) {
      req.socket.destroy();
      finished = true;
      return;
    }
    if (size > maxBytes) chunks.length = 0;
    else chunks.push(chunk);
  });
  req.on("end", () => {
    if (size > maxBytes) {
      const error = `ERR proxy: request body larger than ${maxBytes} bytes`;
      return finish({ ok: false, status: 413, error, close: true });
    }
    finish({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
  });
  req.on("error", () =>
    finish({ ok: false, status: 400, error: "ERR proxy: the request body could not be read" }),
  );
}
