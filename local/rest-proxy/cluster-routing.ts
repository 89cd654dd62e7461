/** @module Redis Cluster routing for the proxy: hash slots, a command's keys, seed parsing, and which replies may be retried. */
import { exists, getKeyIndexes } from "@ioredis/commands";
import type { RedisCommand, Result } from "./commands";

/** Redis Cluster's hash-slot count. */
export const SLOT_COUNT = 16384;

/** Redis' own text for keys in different slots, so clients see what a cluster would answer. */
export const CROSSSLOT_MESSAGE = "CROSSSLOT Keys in request don't hash to the same slot";

/** Where a command (or a transaction) must run: any master, one slot's master, or nowhere. */
export type SlotRoute = { kind: "any" } | { kind: "slot"; slot: number } | { kind: "cross" };

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/**
 * The cluster hash slot of `key` (CRC16/XMODEM mod 16384 of the `{hash tag}` when there is a non-empty one).
 *
 * @example
 * keySlot("foo"); // 12182, as CLUSTER KEYSLOT foo answers
 * keySlot("erl:{1.2.3.4}:api:day") === keySlot("1.2.3.4"); // true
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOT_COUNT;
  }
  return crc16(bytes) % SLOT_COUNT;
}

/**
 * The keys of a command, by Redis' command table. Numeric arguments are clamped to the argument count
 * first: a hostile `EVALSHA sha 999999999` must not make the key scan loop a billion times.
 *
 * @example
 * commandKeys({ name: "EVALSHA", spelled: "evalsha", args: ["abc", "2", "k1", "k2", "1"] }); // ["k1", "k2"]
 */
export function commandKeys(command: RedisCommand): string[] {
  const name = command.name.toLowerCase();
  if (!exists(name)) return [];
  const limit = command.args.length;
  const bounded = command.args.map((arg) =>
    /^\d{1,20}$/.test(arg) && Number(arg) > limit ? String(limit) : arg,
  );
  try {
    return getKeyIndexes(name, bounded)
      .filter((index) => index < limit)
      .map((index) => command.args[index] as string);
  } catch {
    // A malformed command: route it anywhere and let Redis answer with its own error.
    return [];
  }
}

/**
 * Where commands that must run together (one command, or one MULTI/EXEC) go: the slot all their keys
 * share, any master when they have no keys, or `cross` when their keys span slots.
 *
 * @example
 * routeOf([{ name: "MGET", spelled: "mget", args: ["{u}:a", "{u}:b"] }]); // { kind: "slot", slot: … }
 * routeOf([{ name: "MGET", spelled: "mget", args: ["a", "b"] }]); // { kind: "cross" }
 */
export function routeOf(commands: readonly RedisCommand[]): SlotRoute {
  let slot: number | null = null;
  for (const command of commands) {
    for (const key of commandKeys(command)) {
      const own = keySlot(key);
      if (slot === null) slot = own;
      else if (own !== slot) return { kind: "cross" };
    }
  }
  return slot === null ? { kind: "any" } : { kind: "slot", slot };
}

/** Where to find a cluster: some of its nodes (ioredis discovers the rest) and the credentials they share. */
export interface ClusterSeeds {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * Parses `--redis-cluster` seeds: comma-separated `redis://host:port` URLs or bare `host:port`. The first
 * URL's user, password and scheme (`rediss://` = TLS) apply to every node, as all nodes share them.
 *
 * @example
 * parseSeeds("redis://127.0.0.1:7000,127.0.0.1:7001");
 * // { ok: true, value: { nodes: [{ host: "127.0.0.1", port: 7000 }, …], tls: false } }
 */
export function parseSeeds(text: string): Result<ClusterSeeds> {
  const parts = text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  if (parts.length === 0) return { ok: false, error: "--redis-cluster needs at least one seed (host:port)" };
  const nodes: Array<{ host: string; port: number }> = [];
  let auth: { username?: string; password?: string; tls: boolean } | undefined;
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(part) ? part : `redis://${part}`);
    } catch {
      return { ok: false, error: `cluster seed "${part}" is not host:port or a redis:// URL` };
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      return { ok: false, error: `cluster seed "${part}" must use redis:// or rediss://` };
    }
    const port = Number(url.port || 6379);
    if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65535) {
      return { ok: false, error: `cluster seed "${part}" needs a host and a port from 1 to 65535` };
    }
    nodes.push({ host: url.hostname.replace(/^\[|\]$/g, ""), port });
    auth ??= {
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      tls: url.protocol === "rediss:",
    };
  }
  return { ok: true, value: { nodes, tls: false, ...auth } };
}

const NOT_SENT = /^(Stream|Cluster) isn't (writeable|ready) and enableOfflineQueue options is false$/;

/** How the backend reacts to a failed attempt. */
export type RetryAdvice =
  | { kind: "moved"; slot: number; node: string }
  | { kind: "ask"; node: string }
  | { kind: "wait"; ms: number }
  | { kind: "fail"; refresh: boolean };

/**
 * Classifies an error from one attempt. MOVED, ASK, TRYAGAIN and CLUSTERDOWN are replies that say the
 * command did not run, so it is safe to send again; so is a command ioredis refused to write. A lost
 * connection or a timeout may hide a command that ran: it is never re-sent (a rate-limit decision must
 * not be charged twice), only the slot map is refreshed so the next request finds the new master.
 *
 * @example
 * retryAdvice(Object.assign(new Error("MOVED 3999 127.0.0.1:7002"), { name: "ReplyError" }));
 * // { kind: "moved", slot: 3999, node: "127.0.0.1:7002" }
 */
export function retryAdvice(error: unknown, retryDelayMs: number): RetryAdvice {
  if (!(error instanceof Error)) return { kind: "fail", refresh: false };
  // ioredis refused to write it (no connection, offline queue off): it never left, so once the slot map
  // has caught up with a failover it is as safe to send again as a MOVED.
  if (NOT_SENT.test(error.message)) return { kind: "wait", ms: retryDelayMs };
  if (error.name !== "ReplyError") return { kind: "fail", refresh: true };
  const [code, first, second] = error.message.split(" ");
  if (code === "MOVED" && first && second) return { kind: "moved", slot: Number(first), node: second };
  if (code === "ASK" && second) return { kind: "ask", node: second };
  if (code === "TRYAGAIN" || code === "CLUSTERDOWN") return { kind: "wait", ms: retryDelayMs };
  return { kind: "fail", refresh: false };
}
