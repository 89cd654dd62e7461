/** @module Turns ioredis replies (Buffers, numbers, nested arrays, errors) into the JSON values Upstash answers with. */

/** A reply value as Upstash puts it in `{"result": …}`. */
export type JsonReply = string | number | null | JsonReply[];

/**
 * Converts a raw ioredis reply (read with Buffer encoding) to its JSON form: bulk and status strings
 * become base64 when `base64` is set (the client's default `Upstash-Encoding: base64`), UTF-8 text
 * otherwise; integers stay numbers; nil stays null; arrays convert element by element.
 *
 * Errors nested inside arrays (a Lua table holding `redis.error_reply`) keep their text unencoded, as
 * the client never base64-decodes error texts it recognises.
 *
 * @example
 * encodeReply(Buffer.from("hi"), true); // "aGk="
 * encodeReply([Buffer.from("a"), 2, null], false); // ["a", 2, null]
 */
export function encodeReply(value: unknown, base64: boolean): JsonReply {
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  if (typeof value === "number") return value;
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    const out: JsonReply[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = encodeReply(value[i], base64);
    return out;
  }
  if (typeof value === "string") return base64 ? Buffer.from(value, "utf8").toString("base64") : value;
  if (value instanceof Error) return value.message;
  // RESP2 has no other types; a bigint or boolean would only come from a future ioredis option.
  return String(value);
}

/** Whether an ioredis error is a reply from Redis (as opposed to a connection or timeout failure). */
export function isRedisReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** Errors the proxy reports for problems that are not Redis replies. */
export type ProxyFailure = { status: number; message: string };

/**
 * Maps a rejected Redis call to the status code and the `error` text the client sees: a Redis reply
 * error verbatim with 400 (as Upstash does), a timeout with 504, a lost connection with 503.
 *
 * @example
 * describeRedisError(new Error("Command timed out"), 1000);
 * // { status: 504, message: "ERR proxy: Redis did not answer within 1000 ms" }
 */
export function describeRedisError(error: unknown, timeoutMs: number): ProxyFailure {
  if (isRedisReplyError(error)) return { status: 400, message: error.message };
  const text = error instanceof Error ? error.message : String(error);
  if (text === "Command timed out") {
    return { status: 504, message: `ERR proxy: Redis did not answer within ${timeoutMs} ms` };
  }
  return { status: 503, message: `ERR proxy: Redis is unavailable (${text})` };
}
