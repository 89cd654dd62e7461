/** @module Reads Redis' own counters over a direct connection: INFO commandstats deltas and used memory. */
import type { Redis as IoRedis } from "ioredis";

/** Calls per command name (lowercase), as `INFO commandstats` counts them, script-internal calls included. */
export type CommandCounts = Record<string, number>;

/**
 * Parses the `cmdstat_<name>:calls=<n>,…` lines of `INFO commandstats`.
 *
 * @example
 * parseCommandstats("cmdstat_evalsha:calls=3,usec=9\r\n"); // { evalsha: 3 }
 */
export function parseCommandstats(info: string): CommandCounts {
  const counts: CommandCounts = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    counts[(match[1] as string).toLowerCase()] = Number(match[2]);
  }
  return counts;
}

/**
 * Calls made between two snapshots, without the commands the benchmark itself sends to observe Redis.
 *
 * @example
 * diffCounts({ get: 1 }, { get: 4, info: 2 }); // { get: 3 }
 */
export function diffCounts(before: CommandCounts, after: CommandCounts): CommandCounts {
  const ignored = new Set(["info", "ping", "memory", "pttl", "exists", "dbsize", "scan", "config"]);
  const delta: CommandCounts = {};
  for (const [name, calls] of Object.entries(after)) {
    const added = calls - (before[name] ?? 0);
    if (added > 0 && !ignored.has(name)) delta[name] = added;
  }
  return delta;
}

/**
 * Takes a commandstats snapshot.
 *
 * @example
 * const before = await commandCounts(redis);
 */
export async function commandCounts(redis: IoRedis): Promise<CommandCounts> {
  return parseCommandstats(await redis.info("commandstats"));
}

/**
 * `used_memory` from `INFO memory`, in bytes.
 *
 * @example
 * const bytes = await usedMemory(redis);
 */
export async function usedMemory(redis: IoRedis): Promise<number> {
  const match = /^used_memory:(\d+)/m.exec(await redis.info("memory"));
  if (!match?.[1]) throw new Error("bench: INFO memory has no used_memory line");
  return Number(match[1]);
}

/**
 * Sum of calls in a delta, optionally divided by `per` (calls per decision).
 *
 * @example
 * perDecision({ evalsha: 100, get: 100 }, 100); // 2
 */
export function perDecision(delta: CommandCounts, per: number): number {
  const total = Object.values(delta).reduce((sum, n) => sum + n, 0);
  return per === 0 ? Number.NaN : Math.round((total / per) * 100) / 100;
}
