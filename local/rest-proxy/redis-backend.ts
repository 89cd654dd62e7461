/** @module The proxy's Redis side: a few shared auto-pipelined ioredis connections, plus a small pool for transactions and blocking commands. */
import { Redis, type RedisOptions } from "ioredis";
import { notAllowedAutoPipelineCommands } from "ioredis/built/autoPipelining.js";
import type { RedisCommand } from "./commands";

/** Outcome of one command inside MULTI/EXEC: an error or a raw reply (ioredis' `[err, result]`). */
export type TransactionEntry = [Error | null, unknown];

/** What the HTTP layer needs from Redis. Replies are raw ioredis values read as Buffers. */
export interface RedisBackend {
  /**
   * A runner bound to one shared connection (the next in turn). Commands given to the same runner reach
   * Redis in call order, so a pipeline uses one runner; concurrent calls share round trips.
   */
  lane(): (command: RedisCommand) => Promise<unknown>;
  /** Runs a (blocking) command on a connection of its own, so it cannot stall the shared one. */
  runDedicated(command: RedisCommand): Promise<unknown>;
  /** MULTI … EXEC on a connection nobody else uses meanwhile, so concurrent transactions never nest. */
  transaction(commands: RedisCommand[]): Promise<TransactionEntry[]>;
  /**
   * A new connection of its own for one subscriber stream: not connected yet (call `connect()`), never
   * reconnecting (a stream ends when its connection does), disconnected by the caller. `null` when no
   * Redis node is known to connect to.
   */
  subscriber(): Redis | null;
  /** Whether the shared connections are up. */
  isReady(): boolean;
  /** Resolves true once the shared connections are ready; false at a failed attempt or after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>;
  /** Lets pending replies arrive, then closes every connection. */
  close(): Promise<void>;
}

const MAX_DEDICATED_CONNECTIONS = 16;

function connectionOptions(timeoutMs: number): RedisOptions {
  return {
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, 1000),
    // A command that cannot be written now fails now (JSON error), instead of waiting in a queue and
    // running after the client has already been told it failed.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    // Reconnect attempts at most 250 ms apart: the limiter is back within ~¼ s of Redis returning.
    retryStrategy: (attempt: number) => Math.min(attempt * 50, 250),
  };
}

/**
 * Options for a subscriber connection: connected on demand, and never reconnected, because messages
 * published while it was away are lost and its stream must end rather than silently skip them.
 *
 * @example
 * const redis = new Redis(url, subscriberOptions(1000)); await redis.connect();
 */
export function subscriberOptions(timeoutMs: number): RedisOptions {
  return { ...connectionOptions(timeoutMs), lazyConnect: true, retryStrategy: () => null };
}

// ioredis treats a few lower-case names specially: it keeps them out of auto-pipelines and reshapes the
// HGETALL reply into an object. Sent upper-case they are ordinary commands to it (Redis ignores case);
// every other name goes out as the client spelled it, so errors that echo it stay verbatim.
const SPECIAL_TO_IOREDIS = new Set([...notAllowedAutoPipelineCommands, "hgetall"]);

/**
 * The name a command goes out under: upper-case for the few names ioredis treats specially, otherwise as
 * the client spelled it.
 *
 * @example
 * wireName({ name: "HGETALL", spelled: "hgetall", args: ["h"] }); // "HGETALL"
 */
export function wireName(command: RedisCommand): string {
  return SPECIAL_TO_IOREDIS.has(command.spelled) ? command.name : command.spelled;
}

function waitForReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("error", onError);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onError = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on("ready", onReady);
    redis.on("error", onError);
  });
}

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}

/**
 * The shared, auto-pipelined connections, with outages logged once (on the first error, and when every
 * connection is back) rather than per reconnect attempt.
 */
function connectShared(url: string, count: number, timeoutMs: number, log: (line: string) => void): Redis[] {
  const shared = Array.from(
    { length: count },
    () => new Redis(url, { ...connectionOptions(timeoutMs), enableAutoPipelining: true }),
  );
  let outage = false;
  for (const redis of shared) {
    redis.on("error", (error: Error) => {
      if (!outage) log(`rest-proxy: Redis connection error: ${error.message}`);
      outage = true;
    });
    redis.on("ready", () => {
      if (outage && shared.every((r) => r.status === "ready")) {
        log("rest-proxy: Redis connection restored");
        outage = false;
      }
    });
  }
  return shared;
}

/**
 * Connections of their own for blocking commands and transactions: at most 16, reused while healthy,
 * callers beyond that wait their turn (bounded by the request's time).
 */
class DedicatedPool {
  private readonly idle: Redis[] = [];
  private readonly waiters: Array<(redis: Redis) => void> = [];
  private count = 0;
  private closing = false;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `work` on a connection nobody else uses meanwhile. */
  async use<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = await this.acquire();
    let failure: unknown;
    try {
      return await work(redis);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      this.release(redis, failure);
    }
  }

  private async acquire(): Promise<Redis> {
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.count >= MAX_DEDICATED_CONNECTIONS) return this.waitForOne();
    this.count++;
    const redis = new Redis(this.url, connectionOptions(this.timeoutMs));
    redis.on("error", () => {
      // The shared connection reports outages; these would only repeat them.
    });
    if (await waitForReady(redis, this.timeoutMs)) return redis;
    this.discard(redis);
    // Same text as ioredis' own timeout, so the client sees one "did not answer within" error.
    throw new Error("Command timed out");
  }

  private waitForOne(): Promise<Redis> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(grant), 1);
        reject(new Error("Command timed out"));
      }, this.timeoutMs);
      const grant = (redis: Redis) => {
        clearTimeout(timer);
        resolve(redis);
      };
      this.waiters.push(grant);
    });
  }

  private discard(redis: Redis): void {
    this.count--;
    redis.disconnect();
  }

  // A connection whose command failed without a Redis reply (timeout, lost link) may still be blocked or
  // mid-transaction, so it is dropped rather than handed to the next caller.
  private release(redis: Redis, failure: unknown): void {
    if (this.closing || (failure !== undefined && !isReplyError(failure))) {
      this.discard(redis);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(redis);
    else this.idle.push(redis);
  }

  /** Stops reusing connections and hands back the idle ones, for the caller to close. */
  drain(): Redis[] {
    this.closing = true;
    return this.idle.splice(0);
  }
}

/**
 * Connects to Redis at `url`. Connection errors are reported through `log` once per outage rather than
 * per attempt, so a Redis restart does not flood the output.
 *
 * ioredis keeps at most one auto-pipelined batch in flight per connection, so with one connection the
 * next batch always waits a full Redis round trip; `sharedConnections` lets batches overlap.
 *
 * @example
 * const backend = createRedisBackend("redis://127.0.0.1:6379", { timeoutMs: 1000 });
 * await backend.lane()({ name: "PING", spelled: "ping", args: [] }); // <Buffer 50 4f 4e 47>
 * await backend.close();
 */
export function createRedisBackend(
  url: string,
  options: { timeoutMs: number; sharedConnections?: number; log?: (line: string) => void },
): RedisBackend {
  const { timeoutMs, log = () => {} } = options;
  const count = Math.max(1, options.sharedConnections ?? 1);
  const shared = connectShared(url, count, timeoutMs, log);
  // ioredis 5 drops the command name when it auto-pipelines `callBuffer` (it re-adds it only for
  // `call`), so the name goes in twice. wireName() keeps every command on the auto-pipelined path;
  // the conformance suite would catch a change in ioredis.
  const runners = shared.map((redis) => (command: RedisCommand): Promise<unknown> => {
    const name = wireName(command);
    return redis.callBuffer(name, name, ...command.args);
  });
  let turn = 0;
  const dedicated = new DedicatedPool(url, timeoutMs);

  return {
    lane() {
      turn = (turn + 1) % count;
      return runners[turn] as (command: RedisCommand) => Promise<unknown>;
    },
    runDedicated(command) {
      return dedicated.use((redis) => redis.callBuffer(wireName(command), ...command.args));
    },
    transaction(commands) {
      return dedicated.use(async (redis) => {
        const multi = redis.multi();
        for (const command of commands) multi.callBuffer(wireName(command), ...command.args);
        const result = await multi.exec();
        if (result === null) throw new Error("EXEC returned nil");
        return result as TransactionEntry[];
      });
    },
    subscriber: () => new Redis(url, subscriberOptions(timeoutMs)),
    isReady: () => shared.every((redis) => redis.status === "ready"),
    async waitReady(ms) {
      const ready = await Promise.all(shared.map((redis) => waitForReady(redis, ms)));
      return ready.every(Boolean);
    },
    async close() {
      const all = [...shared, ...dedicated.drain()];
      await Promise.all(all.map((redis) => redis.quit().catch(() => redis.disconnect())));
    },
  };
}
