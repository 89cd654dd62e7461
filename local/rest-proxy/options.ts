/** @module Proxy settings: defaults, and the safety rules checked before anything listens. */
import { type ClusterSeeds, parseSeeds } from "./cluster-routing";
import type { Result } from "./commands";

/** Settings for one proxy instance (the CLI, the stack launcher, tests and benchmarks all pass these). */
export interface ProxyOptions {
  /** Redis to forward to, e.g. `redis://127.0.0.1:6379` (password and db in the URL as usual). */
  redisUrl?: string;
  /**
   * Seed nodes of a Redis Cluster (`redis://host:port` or `host:port`); when given, `redisUrl` is not used
   * and every command goes to the master of its key's slot.
   */
  redisCluster?: string[];
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default 8079, 0 picks a free one. */
  port?: number;
  /** Bearer token clients must send. Required unless `insecure` on a loopback host. */
  token?: string;
  /**
   * A second token that may run only commands Redis flags readonly (and subscribe). Needs `token`, and
   * must differ from it.
   */
  readOnlyToken?: string;
  /** Concurrent SSE subscription streams (each holds a Redis connection); default 100, more get 429. */
  maxStreams?: number;
  /** Allow running without a token; only accepted when `host` is a loopback address. */
  insecure?: boolean;
  /** Forward the otherwise refused commands (FLUSHALL, CONFIG, blocking pops, …). */
  allowAllCommands?: boolean;
  /** Longest a request waits for Redis before it gets a JSON error; default 1000 ms. */
  timeoutMs?: number;
  /** Largest request body accepted; default 1 MiB, larger bodies get 413. */
  maxBodyBytes?: number;
  /** Shared auto-pipelined Redis connections requests are spread over; default 1 (fewest syscalls per request). */
  redisConnections?: number;
  /** Strip shebang flags Redis 7.0 rejects from scripts and map EVALSHA hashes accordingly. */
  stripScriptFlags?: boolean;
  /**
   * Emulate Upstash's script semantics (local/rest-proxy/upstash-scripts.ts): `allow-key-locking` scripts
   * may touch only KEYS, unflagged scripts are counted as taking the global lock (`GET /metrics`). Strips
   * flags as `stripScriptFlags` does.
   */
  upstashSemantics?: boolean;
  /** With `upstashSemantics`: `TIME` fails inside scripts, as on a store that forbids clock reads there. */
  refuseScriptTime?: boolean;
  /** Where operational messages go (Redis outages, shutdown); default stderr. */
  log?: (line: string) => void;
}

/** Options with every default filled in, after the safety checks passed. */
export type ResolvedProxyOptions = Required<Omit<ProxyOptions, "token" | "readOnlyToken">> & {
  token: string | null;
  readOnlyToken: string | null;
  /** The parsed `redisCluster` seeds; `null` for a single Redis. */
  cluster: ClusterSeeds | null;
};

export const DEFAULT_PORT = 8079;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_TIMEOUT_MS = 1000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_REDIS_CONNECTIONS = 1;
export const DEFAULT_MAX_STREAMS = 100;
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * Whether `host` only accepts connections from this machine.
 *
 * @example
 * isLoopbackHost("127.0.0.1"); // true
 * isLoopbackHost("0.0.0.0"); // false
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

function positiveInteger(value: number, name: string): string | null {
  return Number.isInteger(value) && value > 0 ? null : `${name} must be a positive integer (got ${value})`;
}

/**
 * Fills in defaults and enforces the start-up rules: a token is required unless the proxy is told it
 * is insecure *and* binds a loopback address, so an open proxy can never face the network.
 *
 * @example
 * resolveProxyOptions({ redisUrl: "redis://127.0.0.1:6379", insecure: true }).ok; // true
 * resolveProxyOptions({ redisUrl: "redis://127.0.0.1:6379", host: "0.0.0.0" }).ok; // false
 */
export function resolveProxyOptions(options: ProxyOptions): Result<ResolvedProxyOptions> {
  const host = options.host ?? DEFAULT_HOST;
  const tokens = resolveTokens(options, host);
  if (!tokens.ok) return tokens;
  const limits = resolveLimits(options);
  if (!limits.ok) return limits;
  if (options.refuseScriptTime && !options.upstashSemantics) {
    return { ok: false, error: "--refuse-script-time needs --upstash-semantics" };
  }
  const redisUrl = options.redisUrl ?? DEFAULT_REDIS_URL;
  const redisCluster = options.redisCluster ?? [];
  const cluster = resolveCluster(redisUrl, redisCluster);
  if (!cluster.ok) return cluster;
  const { token, readOnlyToken, insecure } = tokens.value;
  const { port, timeoutMs, maxBodyBytes, redisConnections, maxStreams } = limits.value;
  return {
    ok: true,
    value: {
      redisUrl,
      redisCluster,
      cluster: cluster.value,
      host,
      port,
      token,
      readOnlyToken,
      maxStreams,
      insecure,
      allowAllCommands: options.allowAllCommands ?? false,
      timeoutMs,
      maxBodyBytes,
      redisConnections,
      stripScriptFlags: options.stripScriptFlags ?? false,
      upstashSemantics: options.upstashSemantics ?? false,
      refuseScriptTime: options.refuseScriptTime ?? false,
      log: options.log ?? ((line) => console.error(line)),
    },
  };
}

/** The start-up rule that keeps an open proxy off the network, and a read-only token honest. */
function resolveTokens(
  options: ProxyOptions,
  host: string,
): Result<Pick<ResolvedProxyOptions, "token" | "readOnlyToken" | "insecure">> {
  const token = options.token ? options.token : null;
  const insecure = options.insecure ?? false;
  if (token === null && !insecure) {
    return { ok: false, error: "refusing to start without a token: pass --token or set PROXY_TOKEN" };
  }
  if (token === null && !isLoopbackHost(host)) {
    return {
      ok: false,
      error: `refusing to start without a token on ${host}: --insecure is only allowed on a loopback address`,
    };
  }
  const readOnlyToken = options.readOnlyToken ? options.readOnlyToken : null;
  if (readOnlyToken !== null && (token === null || readOnlyToken === token)) {
    return {
      ok: false,
      error: "a read-only token needs a (different) full token: pass --token as well as --read-only-token",
    };
  }
  return { ok: true, value: { token, readOnlyToken, insecure } };
}

/** The numbers, defaulted and range-checked, so a typo fails at start rather than under load. */
function resolveLimits(
  options: ProxyOptions,
): Result<
  Pick<ResolvedProxyOptions, "port" | "timeoutMs" | "maxBodyBytes" | "redisConnections" | "maxStreams">
> {
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return { ok: false, error: `port must be an integer from 0 to 65535 (got ${port})` };
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const redisConnections = options.redisConnections ?? DEFAULT_REDIS_CONNECTIONS;
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const invalid =
    positiveInteger(timeoutMs, "timeout") ??
    positiveInteger(maxStreams, "max streams") ??
    positiveInteger(maxBodyBytes, "max body size") ??
    positiveInteger(redisConnections, "Redis connections");
  if (invalid) return { ok: false, error: invalid };
  return { ok: true, value: { port, timeoutMs, maxBodyBytes, redisConnections, maxStreams } };
}

/** Cluster seeds when given (the URL is then unused, so not checked), else a checked Redis URL. */
function resolveCluster(redisUrl: string, redisCluster: string[]): Result<ClusterSeeds | null> {
  if (redisCluster.length > 0) return parseSeeds(redisCluster.join(","));
  if (!/^rediss?:\/\//.test(redisUrl)) {
    return { ok: false, error: `the Redis URL must start with redis:// or rediss:// (got ${redisUrl})` };
  }
  return { ok: true, value: null };
}

/**
 * A Redis URL safe to print: the password, if any, replaced by `***`.
 *
 * @example
 * redactRedisUrl("redis://:secret@10.0.0.5:6379/0"); // "redis://:***@10.0.0.5:6379/0"
 */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
}
