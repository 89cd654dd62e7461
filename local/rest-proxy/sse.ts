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
  const { maxStreams, timeoutMs } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const enders = new Set<(message: string, status?: number) => void>();
  let shuttingDown = false;

  function open(res: ServerResponse, kind: StreamKind, channels: string[], syncToken: string): void {
    if (shuttingDown) {
      sendError(res, 503, "ERR proxy: the proxy is shutting down");
      return;
    }
    if (enders.size >= maxStreams) {
      sendError(
        res,
        429,
        `ERR proxy: too many open subscriptions (at most ${maxStreams}, see --max-streams)`,
      );
      return;
    }
    const connection = subscriber();
    if (connection === null) {
      sendError(res, 503, "ERR proxy: Redis is not connected");
      return;
    }
    const redis: Redis = connection;
    const pending: string[] = [];
    let live = false;
    let heartbeat: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;

    function deliver(frame: string): void {
      if (!live) pending.push(frame);
      else if (res.writableLength > MAX_BACKLOG_BYTES) end("ERR proxy: the client reads too slowly");
      else res.write(frame);
    }

    /** Ends the stream once: a JSON error before it started, a closing SSE comment after. */
    function end(message: string, status = 503): void {
      if (!enders.delete(end)) return;
      clearTimeout(deadline);
      clearInterval(heartbeat);
      redis.disconnect();
      if (!res.headersSent) sendError(res, status, message);
      else if (!res.writableEnded) res.end(`: ${message}\n\n`);
    }
    enders.add(end);

    redis.on("error", () => {
      // A subscriber's failure ends its stream ("end" below); the shared connection reports outages.
    });
    // Before the stream starts, the failed connect or subscribe says why, more precisely than this.
    redis.on("end", () => live && end("ERR proxy: the Redis connection closed"));
    // Nothing can be sent any more; this only releases the Redis connection.
    res.on("close", () => end("ERR proxy: the client went away"));
    if (kind === "subscribe") {
      redis.on("messageBuffer", (channel: Buffer, message: Buffer) =>
        deliver(sseFrame(["message", channel, message])),
      );
    } else {
      redis.on("pmessageBuffer", (pattern: string, channel: Buffer, message: Buffer) =>
        deliver(sseFrame(["pmessage", pattern, channel, message])),
      );
    }
    deadline = setTimeout(
      () => end(`ERR proxy: Redis did not answer within ${timeoutMs} ms`, 504),
      timeoutMs,
    );

    // Each stream is a fresh connection, so its n-th distinct channel is its n-th subscription.
    const unique = [...new Set(channels)];
    redis
      .connect()
      .then(() => (kind === "subscribe" ? redis.subscribe(...unique) : redis.psubscribe(...unique)))
      .then(
        function startStream() {
          if (!enders.has(end)) return;
          clearTimeout(deadline);
          res.writeHead(200, {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            // NGINX would otherwise buffer the stream.
            "x-accel-buffering": "no",
            "upstash-sync-token": syncToken,
          });
          live = true;
          res.write(unique.map((channel, i) => sseFrame([kind, channel, i + 1])).join("") + pending.join(""));
          heartbeat = setInterval(() => deliver(": keep-alive\n\n"), heartbeatMs);
        },
        function failed(error: unknown) {
          const failure = describeRedisError(error, timeoutMs);
          end(failure.message, failure.status);
        },
      );
  }

  return {
    open,
    closeAll() {
      shuttingDown = true;
      for (const end of [...enders]) end("ERR proxy: the proxy is shutting down");
    },
    size: () => enders.size,
  };
}
