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
  // ioredis 5 drops the command name when it auto-pipelines `callBuffer` (it re-adds it only for
  // `call`), so the name goes in twice. wireName() keeps every command on the auto-pipelined path;
  // the conformance suite would catch a change in ioredis.
  const runners = shared.map((redis) => (command: RedisCommand): Promise<unknown> => {
    const name = wireName(command);
    return redis.callBuffer(name, name, ...command.args);
  });
  let turn = 0;

  const idle: Redis[] = [];
  const waiters: Array<(redis: Redis) => void> = [];
  let dedicatedCount = 0;
  let closing = false;

  async function acquire(): Promise<Redis> {
    const ready = idle.pop();
    if (ready) return ready;
    if (dedicatedCount < MAX_DEDICATED_CONNECTIONS) {
      dedicatedCount++;
      const redis = new Redis(url, connectionOptions(timeoutMs));
      redis.on("error", () => {
        // The shared connection reports outages; these would only repeat them.
      });
      if (await waitForReady(redis, timeoutMs)) return redis;
      discard(redis);
      // Same text as ioredis' own timeout, so the client sees one "did not answer within" error.
      throw new Error("Command timed out");
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(grant), 1);
        reject(new Error("Command timed out"));
      }, timeoutMs);
      const grant = (redis: Redis) => {
        clearTimeout(timer);
        resolve(redis);
      };
      waiters.push(grant);
    });
  }

  function discard(redis: Redis): void {
    dedicatedCount--;
    redis.disconnect();
  }

  // A connection whose command failed without a Redis reply (timeout, lost link) may still be blocked or
  // mid-transaction, so it is dropped rather than handed to the next caller.
  function release(redis: Redis, failure: unknown): void {
    if (closing || (failure !== undefined && !isReplyError(failure))) {
      discard(redis);
      return;
    }
    const waiter = waiters.shift();
    if (waiter) waiter(redis);
    else idle.push(redis);
  }

  async function withDedicated<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = await acquire();
    let failure: unknown;
    try {
      return await work(redis);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      release(redis, failure);
    }
  }

  return {
    lane() {
      turn = (turn + 1) % count;
      return runners[turn] as (command: RedisCommand) => Promise<unknown>;
    },
    runDedicated(command) {
      return withDedicated((redis) => redis.callBuffer(wireName(command), ...command.args));
    },
    transaction(commands) {
      return withDedicated(async (redis) => {
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
      closing = true;
      const all = [...shared, ...idle.splice(0)];
      await Promise.all(all.map((redis) => redis.quit().catch(() => redis.disconnect())));
    },
  };
}
