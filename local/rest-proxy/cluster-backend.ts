/** @module The proxy's Redis Cluster side: ioredis Cluster for topology, per-master auto-pipelined lanes, bounded redirect retries. */
import { Cluster, type Redis, type RedisOptions } from "ioredis";
import {
  type ClusterSeeds,
  CROSSSLOT_MESSAGE,
  type RetryAdvice,
  retryAdvice,
  routeOf,
  type SlotRoute,
} from "./cluster-routing";
import type { RedisCommand } from "./commands";
import { type RedisBackend, subscriberOptions, type TransactionEntry, wireName } from "./redis-backend";

type Attempt<T> = (node: Redis, asking: boolean) => Promise<T>;

// Commands without keys that only make sense cluster-wide: the script cache must be on every master
// for EVALSHA to work wherever a key lives, and a flush or a key count means the whole data set.
const FAN_OUT = new Set(["SCRIPT LOAD", "SCRIPT FLUSH", "SCRIPT EXISTS", "FLUSHALL", "FLUSHDB", "DBSIZE"]);
const MAX_REDIRECTIONS = 8;
const REFRESH_THROTTLE_MS = 100;

function replyError(message: string): Error {
  // Named like ioredis' ReplyError so the HTTP layer passes it on verbatim with 400, as Redis' own text.
  return Object.assign(new Error(message), { name: "ReplyError" });
}

function fanOutName(command: RedisCommand): string {
  const sub = command.name === "SCRIPT" ? ` ${(command.args[0] ?? "").toUpperCase()}` : "";
  return `${command.name}${sub}`;
}

function combine(name: string, replies: unknown[]): unknown {
  if (name === "DBSIZE") return replies.reduce<number>((sum, n) => sum + Number(n), 0);
  // A script exists for the cluster only if every master has it: EVALSHA may land on any of them.
  if (name === "SCRIPT EXISTS") {
    const first = (replies[0] as number[]) ?? [];
    return first.map((_, i) => Math.min(...replies.map((r) => Number((r as number[])[i]))));
  }
  return replies[0];
}

/**
 * Connects to a Redis Cluster through `seeds`. Each command goes to the master of its key's slot on that
 * master's own auto-pipelined connection, so a `/pipeline` whose commands live on different masters is
 * split per master and every part still shares round trips. MOVED/ASK/TRYAGAIN/CLUSTERDOWN (the command
 * did not run) are retried until the request's deadline; a lost connection or a timeout is answered at
 * once and never re-sent, so a decision can't be charged twice or run after the client was answered.
 *
 * @example
 * const seeds = parseSeeds("127.0.0.1:7000,127.0.0.1:7001");
 * if (seeds.ok) { const backend = createClusterBackend(seeds.value, { timeoutMs: 1000 }); await backend.close(); }
 */
export function createClusterBackend(
  seeds: ClusterSeeds,
  options: { timeoutMs: number; log?: (line: string) => void },
): RedisBackend {
  const { timeoutMs, log = () => {} } = options;
  const retryDelayMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 5)));
  const nodeOptions: RedisOptions = {
    // ioredis' Cluster auto-pipeliner picks a pipeline by a command's first key but gets it wrong for
    // `callBuffer` with the name passed twice (see redis-backend.ts), so each node pipelines on its own.
    enableAutoPipelining: true,
    commandTimeout: timeoutMs,
    // A node that can't be reached within the request's time is reported, not waited for: queued commands
    // would otherwise be written after the client had its error.
    connectTimeout: timeoutMs,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    username: seeds.username,
    password: seeds.password,
    tls: seeds.tls ? {} : undefined,
  };
  const cluster = new Cluster(seeds.nodes, {
    scaleReads: "master",
    enableOfflineQueue: false,
    redisOptions: nodeOptions,
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    retryDelayOnFailover: retryDelayMs,
    retryDelayOnClusterDown: retryDelayMs,
    retryDelayOnTryAgain: retryDelayMs,
    slotsRefreshTimeout: Math.min(timeoutMs, 1000),
    // A safety net: errors trigger refreshes, this catches topology changes no request has hit yet.
    slotsRefreshInterval: 5000,
  });

  const seen = new Map<string, number>();
  function logOnce(line: string): void {
    const now = Date.now();
    if (now - (seen.get(line) ?? 0) > 10_000) log(line);
    seen.set(line, now);
  }
  let lastMasters = "";
  let byKey: Map<string, Redis> | null = null;
  const forget = () => {
    byKey = null;
  };
  cluster.on("error", (error: Error) => logOnce(`rest-proxy: Redis Cluster: ${error.message}`));
  cluster.on("node error", (error: Error, key: string) =>
    logOnce(`rest-proxy: Redis Cluster node ${key}: ${error.message}`),
  );
  cluster.on("+node", forget);
  cluster.on("-node", forget);
  cluster.on("refresh", () => {
    forget();
    const masters = [...new Set(cluster.slots.map((nodes) => nodes[0]))].sort().join(", ");
    if (masters !== lastMasters) log(`rest-proxy: Redis Cluster masters: ${masters}`);
    lastMasters = masters;
  });

  function nodeByKey(key: string | undefined): Redis | undefined {
    if (key === undefined) return undefined;
    byKey ??= new Map(cluster.nodes("all").map((r) => [`${r.options.host}:${r.options.port}`, r]));
    const node = byKey.get(key);
    return node && node.status !== "end" ? node : undefined;
  }

  let turn = 0;
  function target(route: SlotRoute): Redis | undefined {
    if (route.kind === "slot") return nodeByKey(cluster.slots[route.slot]?.[0]);
    const masters = cluster.nodes("master").filter((node) => node.status !== "end");
    turn = (turn + 1) % Math.max(1, masters.length);
    return masters[turn];
  }

  let inflight: Promise<void> | null = null;
  let lastRefresh = 0;
  /** Refreshes the slot map (joining one in flight; at most one per 100 ms) and resolves when it is done. */
  function refresh(): Promise<void> {
    if (inflight) return inflight;
    if (Date.now() - lastRefresh < REFRESH_THROTTLE_MS) return Promise.resolve();
    inflight = new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve())).finally(() => {
      inflight = null;
      lastRefresh = Date.now();
    });
    return inflight;
  }

  function unavailable(route: SlotRoute): Error {
    void refresh();
    const where = route.kind === "slot" ? `the master of slot ${route.slot}` : "any master";
    return new Error(`no connection to ${where} (failover in progress?)`);
  }

  /** Runs `attempt` on the route's master, following redirections until the deadline. */
  async function withRedirects<T>(route: SlotRoute, attempt: Attempt<T>, allowAsk: boolean): Promise<T> {
    if (route.kind === "cross") throw replyError(CROSSSLOT_MESSAGE);
    const deadline = Date.now() + timeoutMs;
    let node = target(route);
    let asking = false;
    for (let redirections = 0; ; redirections++) {
      if (!node) throw unavailable(route);
      try {
        return await attempt(node, asking);
      } catch (error) {
        const advice = adviceFor(error);
        const waitMs = advice.kind === "wait" ? advice.ms : 0;
        const usable = advice.kind !== "fail" && (advice.kind !== "ask" || allowAsk);
        if (!usable || redirections >= MAX_REDIRECTIONS || Date.now() + waitMs >= deadline) {
          if (advice.kind === "fail" && advice.refresh) void refresh();
          throw error;
        }
        asking = advice.kind === "ask";
        if (advice.kind === "wait") {
          await new Promise((r) => setTimeout(r, waitMs));
          await refresh();
          node = target(route);
        } else if (advice.kind === "moved") {
          node = nodeByKey(advice.node) ?? (await refresh().then(() => target(route)));
          void refresh();
        } else if (advice.kind === "ask") {
          node = nodeByKey(advice.node);
        }
        // Waiting for the slot map may have used up the request's time: the client has its answer by now.
        if (Date.now() >= deadline) throw error;
      }
    }
  }

  /** A transaction aborted by EXECABORT carries the reason (e.g. MOVED) in its queued commands' errors. */
  function adviceFor(error: unknown): RetryAdvice {
    const own = retryAdvice(error, retryDelayMs);
    if (own.kind !== "fail") return own;
    const queued = (error as { previousErrors?: unknown[] }).previousErrors ?? [];
    return queued.map((e) => retryAdvice(e, retryDelayMs)).find((a) => a.kind !== "fail") ?? own;
  }

  function send(node: Redis, command: RedisCommand, asking: boolean): Promise<unknown> {
    const name = wireName(command);
    // Same tick, same node: ASKING and the command ride one auto-pipelined write, back to back.
    if (asking) node.callBuffer("asking", "asking").catch(() => undefined);
    return node.callBuffer(name, name, ...command.args);
  }

  async function fanOut(command: RedisCommand, name: string): Promise<unknown> {
    const masters = cluster.nodes("master");
    if (masters.length === 0) throw unavailable({ kind: "any" });
    return combine(name, await Promise.all(masters.map((node) => send(node, command, false))));
  }

  function run(command: RedisCommand): Promise<unknown> {
    const name = fanOutName(command);
    if (FAN_OUT.has(name)) return fanOut(command, name);
    return withRedirects(routeOf([command]), (node, asking) => send(node, command, asking), true);
  }

  return {
    lane: () => run,
    runDedicated(command) {
      // Blocking commands get a connection of their own to the slot's master, closed afterwards.
      return withRedirects(
        routeOf([command]),
        async (node) => {
          const own = node.duplicate({ enableAutoPipelining: false });
          own.on("error", () => undefined);
          try {
            return await own.callBuffer(wireName(command), ...command.args);
          } finally {
            own.disconnect();
          }
        },
        false,
      );
    },
    transaction(commands) {
      // MULTI…EXEC goes out in one write on the master's connection, so nothing interleaves with it.
      return withRedirects(
        routeOf(commands),
        async (node) => {
          const multi = node.multi();
          for (const command of commands) multi.callBuffer(wireName(command), ...command.args);
          const result = await multi.exec();
          if (result === null) throw new Error("EXEC returned nil");
          return result as TransactionEntry[];
        },
        false,
      );
    },
    subscriber() {
      // Classic PUBLISH reaches every node of a cluster, so one connection to any master hears every
      // channel; the masters take turns so streams spread over them.
      const node = target({ kind: "any" });
      return node ? node.duplicate({ ...subscriberOptions(timeoutMs), enableAutoPipelining: false }) : null;
    },
    isReady: () => cluster.status === "ready",
    waitReady(ms) {
      if (cluster.status === "ready") return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ready: boolean) => {
          clearTimeout(timer);
          cluster.off("ready", onReady);
          cluster.off("error", onError);
          resolve(ready);
        };
        const timer = setTimeout(() => done(false), ms);
        const onReady = () => done(true);
        const onError = () => done(false);
        cluster.once("ready", onReady);
        cluster.once("error", onError);
      });
    },
    async close() {
      await cluster.quit().catch(() => cluster.disconnect());
    },
  };
}
