/** @module The proxy's Redis Cluster side: ioredis Cluster for topology, per-master auto-pipelined lanes, bounded redirect retries. */
import type { Redis } from "ioredis";
import {
  type ClusterSeeds,
  CROSSSLOT_MESSAGE,
  type RetryAdvice,
  retryAdvice,
  routeOf,
  type SlotRoute,
} from "./cluster-routing";
import { ClusterTopology } from "./cluster-topology";
import type { RedisCommand } from "./commands";
import { type RedisBackend, subscriberOptions, type TransactionEntry, wireName } from "./redis-backend";

type Attempt<T> = (node: Redis, asking: boolean) => Promise<T>;

// Commands without keys that only make sense cluster-wide: the script cache must be on every master
// for EVALSHA to work wherever a key lives, and a flush or a key count means the whole data set.
const FAN_OUT = new Set(["SCRIPT LOAD", "SCRIPT FLUSH", "SCRIPT EXISTS", "FLUSHALL", "FLUSHDB", "DBSIZE"]);
const MAX_REDIRECTIONS = 8;

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
 * A `RedisBackend` on a Redis Cluster: each command to its slot's master, bounded redirect retries.
 * (`createClusterBackend` builds one; the class keeps each step a small named method.)
 */
class ClusterBackend implements RedisBackend {
  private readonly topology: ClusterTopology;
  private readonly retryDelayMs: number;

  constructor(
    seeds: ClusterSeeds,
    private readonly timeoutMs: number,
    log: (line: string) => void,
  ) {
    this.retryDelayMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 5)));
    this.topology = new ClusterTopology(seeds, { timeoutMs, retryDelayMs: this.retryDelayMs, log });
  }

  /** Runs `attempt` on the route's master, following redirections until the deadline. */
  private async withRedirects<T>(route: SlotRoute, attempt: Attempt<T>, allowAsk: boolean): Promise<T> {
    if (route.kind === "cross") throw replyError(CROSSSLOT_MESSAGE);
    const deadline = Date.now() + this.timeoutMs;
    let node = this.topology.target(route);
    let asking = false;
    for (let redirections = 0; ; redirections++) {
      if (!node) throw this.topology.unavailable(route);
      try {
        return await attempt(node, asking);
      } catch (error) {
        const advice = this.adviceFor(error);
        const waitMs = advice.kind === "wait" ? advice.ms : 0;
        const usable = advice.kind !== "fail" && (advice.kind !== "ask" || allowAsk);
        if (!usable || redirections >= MAX_REDIRECTIONS || Date.now() + waitMs >= deadline) {
          if (advice.kind === "fail" && advice.refresh) void this.topology.refresh();
          throw error;
        }
        asking = advice.kind === "ask";
        node = await this.follow(advice, route);
        // Waiting for the slot map may have used up the request's time: the client has its answer by now.
        if (Date.now() >= deadline) throw error;
      }
    }
  }

  /** Where a redirected or refused attempt goes next: after a wait, to the node named, or (ASK) there once. */
  private async follow(advice: RetryAdvice, route: SlotRoute): Promise<Redis | undefined> {
    const topology = this.topology;
    if (advice.kind === "wait") {
      await new Promise((r) => setTimeout(r, advice.ms));
      await topology.refresh();
      return topology.target(route);
    }
    if (advice.kind === "moved") {
      const node =
        topology.nodeByKey(advice.node) ?? (await topology.refresh().then(() => topology.target(route)));
      void topology.refresh();
      return node;
    }
    return advice.kind === "ask" ? topology.nodeByKey(advice.node) : undefined;
  }

  /** A transaction aborted by EXECABORT carries the reason (e.g. MOVED) in its queued commands' errors. */
  private adviceFor(error: unknown): RetryAdvice {
    const own = retryAdvice(error, this.retryDelayMs);
    if (own.kind !== "fail") return own;
    const queued = (error as { previousErrors?: unknown[] }).previousErrors ?? [];
    return queued.map((e) => retryAdvice(e, this.retryDelayMs)).find((a) => a.kind !== "fail") ?? own;
  }

  private async fanOut(command: RedisCommand, name: string): Promise<unknown> {
    const masters = this.topology.cluster.nodes("master");
    if (masters.length === 0) throw this.topology.unavailable({ kind: "any" });
    return combine(name, await Promise.all(masters.map((node) => send(node, command, false))));
  }

  private readonly run = (command: RedisCommand): Promise<unknown> => {
    const name = fanOutName(command);
    if (FAN_OUT.has(name)) return this.fanOut(command, name);
    return this.withRedirects(routeOf([command]), (node, asking) => send(node, command, asking), true);
  };

  lane(): (command: RedisCommand) => Promise<unknown> {
    return this.run;
  }

  runDedicated(command: RedisCommand): Promise<unknown> {
    // Blocking commands get a connection of their own to the slot's master, closed afterwards.
    return this.withRedirects(routeOf([command]), (node) => runOnOwnConnection(node, command), false);
  }

  transaction(commands: RedisCommand[]): Promise<TransactionEntry[]> {
    // MULTI…EXEC goes out in one write on the master's connection, so nothing interleaves with it.
    return this.withRedirects(routeOf(commands), (node) => multiExec(node, commands), false);
  }

  subscriber(): Redis | null {
    // Classic PUBLISH reaches every node of a cluster, so one connection to any master hears every
    // channel; the masters take turns so streams spread over them.
    const node = this.topology.target({ kind: "any" });
    return node
      ? node.duplicate({ ...subscriberOptions(this.timeoutMs), enableAutoPipelining: false })
      : null;
  }

  isReady(): boolean {
    return this.topology.cluster.status === "ready";
  }

  waitReady(ms: number): Promise<boolean> {
    return this.topology.waitReady(ms);
  }

  async close(): Promise<void> {
    const cluster = this.topology.cluster;
    await cluster.quit().catch(() => cluster.disconnect());
  }
}

function send(node: Redis, command: RedisCommand, asking: boolean): Promise<unknown> {
  const name = wireName(command);
  // Same tick, same node: ASKING and the command ride one auto-pipelined write, back to back.
  if (asking) node.callBuffer("asking", "asking").catch(() => undefined);
  return node.callBuffer(name, name, ...command.args);
}

async function runOnOwnConnection(node: Redis, command: RedisCommand): Promise<unknown> {
  const own = node.duplicate({ enableAutoPipelining: false });
  own.on("error", () => undefined);
  try {
    return await own.callBuffer(wireName(command), ...command.args);
  } finally {
    own.disconnect();
  }
}

async function multiExec(node: Redis, commands: RedisCommand[]): Promise<TransactionEntry[]> {
  const multi = node.multi();
  for (const command of commands) multi.callBuffer(wireName(command), ...command.args);
  const result = await multi.exec();
  if (result === null) throw new Error("EXEC returned nil");
  return result as TransactionEntry[];
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
  return new ClusterBackend(seeds, options.timeoutMs, options.log ?? (() => {}));
}
