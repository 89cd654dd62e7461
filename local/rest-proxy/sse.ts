/** @module Server-Sent Events for `/subscribe/<channel>` and `/psubscribe/<pattern>`: one Redis subscriber per stream, bounded, always cleaned up. */
import type { ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { describeRedisError } from "./encoding";
import { sendError } from "./http";

/** Which subscription a stream holds: channels by name, or channels by glob pattern. */
export type StreamKind = "subscribe" | "psubscribe";

/** The open streams of one proxy. */
export interface StreamHub {
  /** Subscribes to `channels` on a connection of its own and streams what arrives to `res`. */
  open(res: ServerResponse, kind: StreamKind, channels: string[], syncToken: string): void;
  /** Ends every stream (proxy shutdown) and closes their Redis connections. */
  closeAll(): void;
  /** Streams open or being opened. */
  size(): number;
}

/** Settings of the hub. */
export interface StreamHubOptions {
  maxStreams: number;
  timeoutMs: number;
  /** How often an idle stream gets an SSE comment, so intermediaries keep it open; default 15 s. */
  heartbeatMs?: number;
}

// A client that reads slower than messages arrive would make its backlog grow without bound.
const MAX_BACKLOG_BYTES = 1024 * 1024;

/**
 * One SSE event: `data: <type>,<name>,…` as `@upstash/redis` parses it. A line break inside a channel or
 * message starts another `data:` line, as the SSE format requires (an EventSource joins them with "\n").
 *
 * @example
 * sseFrame(["message", "news", "hi"]); // "data: message,news,hi\n\n"
 */
export function sseFrame(fields: Array<string | number | Buffer>): string {
  const text = fields.map(String).join(",");
  return `${text
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("")}\n`;
}

/**
 * Builds the hub. Each stream gets its own subscriber connection from `subscriber()`, so the counts in
 * its `subscribe` events are its own and closing it unsubscribes exactly what it subscribed. Beyond
 * `maxStreams` a request gets `429` JSON. A stream ends, and its connection closes, when the client goes
 * away, when Redis closes the connection, when the client falls 1 MiB behind, or on `closeAll()`.
 *
 * @example
 * const hub = createStreamHub(() => backend.subscriber(), { maxStreams: 100, timeoutMs: 1000 });
 * hub.open(res, "subscribe", ["news"], "1");
 */
export function createStreamHub(subscriber: () => Redis | null, options: StreamHubOptions): StreamHub {
  const hub: Hub = {
    subscriber,
    maxStreams: options.maxStreams,
    timeoutMs: options.timeoutMs,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    streams: new Set(),
    shuttingDown: false,
  };
  return {
    open: (res, kind, channels, syncToken) => openStream(hub, res, kind, channels, syncToken),
    closeAll() {
      hub.shuttingDown = true;
      for (const stream of [...hub.streams]) endStream(stream, "ERR proxy: the proxy is shutting down");
    },
    size: () => hub.streams.size,
  };
}

/** The hub's settings and its open streams, shared by every stream so each can remove itself. */
interface Hub {
  readonly subscriber: () => Redis | null;
  readonly maxStreams: number;
  readonly timeoutMs: number;
  readonly heartbeatMs: number;
  /** Streams open or being opened; a stream leaves it exactly once, when it ends. */
  readonly streams: Set<Stream>;
  shuttingDown: boolean;
}

/** One stream: its client, its own subscriber connection, and what arrived before its headers went out. */
interface Stream {
  readonly hub: Hub;
  readonly res: ServerResponse;
  readonly redis: Redis;
  readonly kind: StreamKind;
  /** Messages that arrive between SUBSCRIBE's reply and the 200 are sent right after the headers. */
  readonly pending: string[];
  live: boolean;
  heartbeat: NodeJS.Timeout | undefined;
  deadline: NodeJS.Timeout | undefined;
}

/** Opens one stream, or answers why not; the stream cleans itself up however it ends. */
function openStream(
  hub: Hub,
  res: ServerResponse,
  kind: StreamKind,
  channels: string[],
  syncToken: string,
): void {
  const redis = admit(hub, res);
  if (redis === null) return;
  const stream: Stream = {
    hub,
    res,
    redis,
    kind,
    pending: [],
    live: false,
    heartbeat: undefined,
    deadline: undefined,
  };
  hub.streams.add(stream);
  listen(stream);
  stream.deadline = setTimeout(
    () => endStream(stream, `ERR proxy: Redis did not answer within ${hub.timeoutMs} ms`, 504),
    hub.timeoutMs,
  );

  // Each stream is a fresh connection, so its n-th distinct channel is its n-th subscription.
  const unique = [...new Set(channels)];
  redis
    .connect()
    .then(() => (kind === "subscribe" ? redis.subscribe(...unique) : redis.psubscribe(...unique)))
    .then(
      () => startStream(stream, unique, syncToken),
      function failed(error: unknown) {
        const failure = describeRedisError(error, hub.timeoutMs);
        endStream(stream, failure.message, failure.status);
      },
    );
}

/** A subscriber connection for a new stream, or `null` after answering why the hub cannot take one. */
function admit(hub: Hub, res: ServerResponse): Redis | null {
  if (hub.shuttingDown) {
    sendError(res, 503, "ERR proxy: the proxy is shutting down");
    return null;
  }
  if (hub.streams.size >= hub.maxStreams) {
    sendError(
      res,
      429,
      `ERR proxy: too many open subscriptions (at most ${hub.maxStreams}, see --max-streams)`,
    );
    return null;
  }
  const connection = hub.subscriber();
  if (connection === null) sendError(res, 503, "ERR proxy: Redis is not connected");
  return connection;
}

/** Ties the stream's end to its client and its connection, and its messages to SSE frames. */
function listen(stream: Stream): void {
  const { redis, res } = stream;
  redis.on("error", () => {
    // A subscriber's failure ends its stream ("end" below); the shared connection reports outages.
  });
  // Before the stream starts, the failed connect or subscribe says why, more precisely than this.
  redis.on("end", () => stream.live && endStream(stream, "ERR proxy: the Redis connection closed"));
  // Nothing can be sent any more; this only releases the Redis connection.
  res.on("close", () => endStream(stream, "ERR proxy: the client went away"));
  if (stream.kind === "subscribe") {
    redis.on("messageBuffer", (channel: Buffer, message: Buffer) =>
      deliver(stream, sseFrame(["message", channel, message])),
    );
  } else {
    redis.on("pmessageBuffer", (pattern: string, channel: Buffer, message: Buffer) =>
      deliver(stream, sseFrame(["pmessage", pattern, channel, message])),
    );
  }
}

/** Sends the 200 and the subscribe events once Redis confirmed them, then what queued meanwhile. */
function startStream(stream: Stream, unique: string[], syncToken: string): void {
  const { hub, res, kind } = stream;
  if (!hub.streams.has(stream)) return;
  clearTimeout(stream.deadline);
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    // NGINX would otherwise buffer the stream.
    "x-accel-buffering": "no",
    "upstash-sync-token": syncToken,
  });
  stream.live = true;
  res.write(unique.map((channel, i) => sseFrame([kind, channel, i + 1])).join("") + stream.pending.join(""));
  stream.heartbeat = setInterval(() => deliver(stream, ": keep-alive\n\n"), hub.heartbeatMs);
}

/** Queues a frame until the stream starts; ends a stream whose client fell too far behind. */
function deliver(stream: Stream, frame: string): void {
  if (!stream.live) stream.pending.push(frame);
  else if (stream.res.writableLength > MAX_BACKLOG_BYTES)
    endStream(stream, "ERR proxy: the client reads too slowly");
  else stream.res.write(frame);
}

/** Ends the stream once: a JSON error before it started, a closing SSE comment after. */
function endStream(stream: Stream, message: string, status = 503): void {
  const { res } = stream;
  if (!stream.hub.streams.delete(stream)) return;
  clearTimeout(stream.deadline);
  clearInterval(stream.heartbeat);
  stream.redis.disconnect();
  if (!res.headersSent) sendError(res, status, message);
  else if (!res.writableEnded) res.end(`: ${message}\n\n`);
}
