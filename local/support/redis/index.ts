/** @module Starts a private, non-persistent redis-server on a free loopback port (for the stack, tests and benchmarks). */
import { connect } from "node:net";
import { freePort, type ManagedProcess, spawnManaged, waitUntil } from "../process";
import { ensureSystemDeps } from "../system-deps";

/** A running redis-server that belongs to the caller. */
export interface RedisServer {
  port: number;
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Answers whether a Redis server on `port` replies `+PONG` to `PING`.
 *
 * @example
 * await pingRedis(6379); // true
 */
export function pingRedis(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let reply = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.on("error", () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data.toString();
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}

/**
 * Starts `redis-server` on a free port (or `port`) with persistence off, and waits until it answers.
 *
 * @example
 * const redis = await startRedis();
 * // ... use redis.url ...
 * await redis.stop();
 */
export async function startRedis(options: { port?: number } = {}): Promise<RedisServer> {
  const deps = ensureSystemDeps(["redis"]);
  if (!deps.ok) throw new Error(deps.error);
  const port = options.port ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const child = spawnManaged("redis", deps.value["redis-server"] as string, [...args, "--logfile", ""]);
  await waitUntil(`redis-server on port ${port}`, () => pingRedis(port), {
    timeoutMs: 10_000,
    process: child,
  });
  return { port, url: `redis://127.0.0.1:${port}`, process: child, stop: () => child.stop() };
}
