/** @module What the proxy knows of a Redis Cluster: the ioredis Cluster, its masters by address and slot, and slot-map refreshes. */
import { Cluster, type Redis, type RedisOptions } from "ioredis";
import type { ClusterSeeds, SlotRoute } from "./cluster-routing";

const REFRESH_THROTTLE_MS = 100;

/** Options of the connection to each node: the request's time bounds everything, nothing is re-sent. */
function nodeOptions(seeds: ClusterSeeds, timeoutMs: number): RedisOptions {
  return {
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
}

function connectCluster(seeds: ClusterSeeds, timeoutMs: number, retryDelayMs: number): Cluster {
  return new Cluster(seeds.nodes, {
    scaleReads: "master",
    enableOfflineQueue: false,
    redisOptions: nodeOptions(seeds, timeoutMs),
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    retryDelayOnFailover: retryDelayMs,
    retryDelayOnClusterDown: retryDelayMs,
    retryDelayOnTryAgain: retryDelayMs,
    slotsRefreshTimeout: Math.min(timeoutMs, 1000),
    // A safety net: errors trigger refreshes, this catches topology changes no request has hit yet.
    slotsRefreshInterval: 5000,
  });
}

/**
 * The cluster's current shape as the proxy routes by it: which connection serves a slot's master, a
 * master in turn for keyless commands, and a throttled refresh of the slot map when it proved stale.
 *
 * @example
 * const topology = new ClusterTopology(seeds, { timeoutMs: 1000, retryDelayMs: 100, log: console.log });
 * const node = topology.target({ kind: "slot", slot: 42 });
 */
export class ClusterTopology {
  readonly cluster: Cluster;
  private readonly seen = new Map<string, number>();
  private lastMasters = "";
  private byKey: Map<string, Redis> | null = null;
  private turn = 0;
  private inflight: Promise<void> | null = null;
  private lastRefresh = 0;

  constructor(
    seeds: ClusterSeeds,
    options: { timeoutMs: number; retryDelayMs: number; log: (line: string) => void },
  ) {
    const { log } = options;
    this.cluster = connectCluster(seeds, options.timeoutMs, options.retryDelayMs);
    const forget = () => {
      this.byKey = null;
    };
    this.cluster.on("error", (error: Error) =>
      this.logOnce(log, `rest-proxy: Redis Cluster: ${error.message}`),
    );
    this.cluster.on("node error", (error: Error, key: string) =>
      this.logOnce(log, `rest-proxy: Redis Cluster node ${key}: ${error.message}`),
    );
    this.cluster.on("+node", forget);
    this.cluster.on("-node", forget);
    this.cluster.on("refresh", () => {
      forget();
      const masters = [...new Set(this.cluster.slots.map((nodes) => nodes[0]))].sort().join(", ");
      if (masters !== this.lastMasters) log(`rest-proxy: Redis Cluster masters: ${masters}`);
      this.lastMasters = masters;
    });
  }

  /** The same line at most every 10 s: a node that is down is said once, not per attempt. */
  private logOnce(log: (line: string) => void, line: string): void {
    const now = Date.now();
    if (now - (this.seen.get(line) ?? 0) > 10_000) log(line);
    this.seen.set(line, now);
  }

  /** The live connection to the node at `key` ("host:port"), if the cluster has one. */
  nodeByKey(key: string | undefined): Redis | undefined {
    if (key === undefined) return undefined;
    this.byKey ??= new Map(this.cluster.nodes("all").map((r) => [`${r.options.host}:${r.options.port}`, r]));
    const node = this.byKey.get(key);
    return node && node.status !== "end" ? node : undefined;
  }

  /** The master a route goes to: its slot's, or for keyless commands each master in turn. */
  target(route: SlotRoute): Redis | undefined {
    if (route.kind === "slot") return this.nodeByKey(this.cluster.slots[route.slot]?.[0]);
    const masters = this.cluster.nodes("master").filter((node) => node.status !== "end");
    this.turn = (this.turn + 1) % Math.max(1, masters.length);
    return masters[this.turn];
  }

  /** Refreshes the slot map (joining one in flight; at most one per 100 ms) and resolves when it is done. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (Date.now() - this.lastRefresh < REFRESH_THROTTLE_MS) return Promise.resolve();
    this.inflight = new Promise<void>((resolve) => this.cluster.refreshSlotsCache(() => resolve())).finally(
      () => {
        this.inflight = null;
        this.lastRefresh = Date.now();
      },
    );
    return this.inflight;
  }

  /** The error for a route with no master to go to; asks for a fresher slot map on the way. */
  unavailable(route: SlotRoute): Error {
    void this.refresh();
    const where = route.kind === "slot" ? `the master of slot ${route.slot}` : "any master";
    return new Error(`no connection to ${where} (failover in progress?)`);
  }

  /** Resolves true once the cluster is ready; false at its first error or after `ms`. */
  waitReady(ms: number): Promise<boolean> {
    const cluster = this.cluster;
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
  }
}
