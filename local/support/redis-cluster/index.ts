/** @module Starts a private Redis Cluster (by default 3 masters, 1 replica each) on loopback, with fast failover, for the stack and tests. */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ManagedProcess, spawnManaged, waitUntil } from "../process";
import { pingRedis } from "../redis";
import { ensureSystemDeps } from "../system-deps";
import { clusterPort, type NodeInfo, parseClusterNodes, queryNode } from "./nodes";

export { clusterPort, type NodeInfo, parseClusterNodes, queryNode } from "./nodes";

/** A node as started (its role can change later: see `topology()`). */
export interface ClusterNodeProcess {
  port: number;
  pid: number;
  role: "master" | "replica";
  process: ManagedProcess;
}

/** A running cluster that belongs to the caller. */
export interface RedisCluster {
  nodes: ClusterNodeProcess[];
  /** `redis://127.0.0.1:<port>` of every node: what `--redis-cluster` takes. */
  seeds: string[];
  /** The cluster's current view (roles after failovers, failing nodes, slot ranges), from a live node. */
  topology(): Promise<NodeInfo[]>;
  /** Port of the master that serves `key`'s slot right now. */
  masterFor(key: string): Promise<number>;
  /** Kills one node (SIGKILL: no goodbye to the cluster, like a crash). */
  killNode(port: number): Promise<void>;
  /** Sends `signal` to a node, e.g. SIGSTOP to make it hang (its connections stay open) and SIGCONT to resume. */
  signalNode(port: number, signal: NodeJS.Signals): void;
  /**
   * Resolves true once the cluster has marked the node on `port` as failed and handed its slots to another
   * master (a replica's failover); false after `timeoutMs` (e.g. a master without a replica).
   */
  waitReplaced(port: number, timeoutMs?: number): Promise<boolean>;
  /** Starts a killed node again on its port and config file; it rejoins (a former master as a replica). */
  restartNode(port: number): Promise<ManagedProcess>;
  /** Resolves once every running node says `cluster_state:ok` and every slot has a reachable master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/**
 * Starts `masters × (1 + replicasPerMaster)` redis-servers in cluster mode on free ports (persistence off,
 * node timeout 1 s so a dead master is replaced within seconds), joins them with
 * `redis-cli --cluster create`, and waits until the cluster is healthy on every node.
 *
 * `cluster-require-full-coverage no`: while one master is down, keys on the others keep working instead
 * of the whole cluster answering CLUSTERDOWN. `cluster-replica-validity-factor 0`: a replica always may
 * take over, however long its link was down.
 *
 * @example
 * const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
 * // proxy: --redis-cluster ${cluster.seeds.join(",")}
 * await cluster.stop();
 */
export async function startRedisCluster(
  options: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {},
): Promise<RedisCluster> {
  const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000 } = options;
  const deps = ensureSystemDeps(["redis"]);
  if (!deps.ok) throw new Error(deps.error);
  const server = deps.value["redis-server"] as string;
  const dir = await mkdtemp(join(tmpdir(), "erl-redis-cluster-"));
  const cluster: Cluster = { server, dir, nodeTimeoutMs, processes: new Map() };
  try {
    const ports = await pickPorts(masters * (1 + replicasPerMaster));
    await Promise.all(ports.map((port) => startNode(cluster, port)));
    await run(join(server, "..", "redis-cli"), [
      ...["--cluster", "create", ...ports.map((port) => `127.0.0.1:${port}`)],
      ...["--cluster-replicas", String(replicasPerMaster), "--cluster-yes"],
    ]);
    await waitHealthy(cluster, 30_000);
    return await clusterHandle(cluster, ports);
  } catch (error) {
    await stopCluster(cluster);
    throw error;
  }
}

/** One cluster's nodes and how to start them again; every operation on the cluster takes it. */
interface Cluster {
  /** The redis-server binary. */
  readonly server: string;
  /** Every node's config and snapshot files; removed on stop. */
  readonly dir: string;
  readonly nodeTimeoutMs: number;
  /** The latest process on each port, restarted ones included, so stop reaches all of them. */
  readonly processes: Map<number, ManagedProcess>;
}

/** Free ports, each with its cluster bus port (+10000) free as well. */
async function pickPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const taken = new Set<number>();
  for (let i = 0; i < count; i++) {
    const port = await clusterPort(taken);
    taken.add(port);
    ports.push(port);
  }
  return ports;
}

/** The caller's handle, with each node's role as the cluster assigned it at creation. */
async function clusterHandle(cluster: Cluster, ports: number[]): Promise<RedisCluster> {
  const roles = new Map((await topology(cluster)).map((n) => [n.port, n.role]));
  const nodes = ports.map((port) => {
    const child = cluster.processes.get(port) as ManagedProcess;
    return { port, pid: child.pid, role: roles.get(port) ?? "replica", process: child };
  });
  return {
    nodes,
    seeds: ports.map((port) => `redis://127.0.0.1:${port}`),
    topology: () => topology(cluster),
    masterFor: (key) => masterFor(cluster, ports[0] as number, key),
    async killNode(port) {
      const child = nodeOn(cluster, port);
      child.child.kill("SIGKILL");
      await child.exited;
    },
    signalNode(port, signal) {
      nodeOn(cluster, port).child.kill(signal);
    },
    waitReplaced: (port, timeoutMs = 15_000) => waitReplaced(cluster, port, timeoutMs),
    restartNode: (port) => startNode(cluster, port),
    waitHealthy: (timeoutMs = 30_000) => waitHealthy(cluster, timeoutMs),
    stop: () => stopCluster(cluster),
  };
}

/** Starts (or restarts) the node on `port` with its own config file, so a restart rejoins the cluster. */
async function startNode(cluster: Cluster, port: number): Promise<ManagedProcess> {
  const args = [
    ...["--port", String(port), "--bind", "127.0.0.1", "--dir", cluster.dir, "--logfile", ""],
    ...["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`],
    ...["--cluster-node-timeout", String(cluster.nodeTimeoutMs), "--cluster-require-full-coverage", "no"],
    ...["--cluster-replica-validity-factor", "0", "--save", "", "--appendonly", "no"],
    // The nodes share one directory. A replica's full sync writes the snapshot to its dbfilename and loads
    // it from there: with one dump.rdb for all, replicas syncing at once could load each other's.
    ...["--dbfilename", `dump-${port}.rdb`],
  ];
  const child = spawnManaged(`redis-${port}`, cluster.server, args);
  cluster.processes.set(port, child);
  await waitUntil(`cluster node on port ${port}`, () => pingRedis(port), {
    timeoutMs: 10_000,
    process: child,
  });
  return child;
}

/** Stops every node ever started, paused ones included, and removes their files. */
async function stopCluster(cluster: Cluster): Promise<void> {
  const { processes } = cluster;
  // A node paused with SIGSTOP would sit on SIGTERM until the SIGKILL grace period ran out.
  for (const child of processes.values()) if (child.child.exitCode === null) child.child.kill("SIGCONT");
  await Promise.all([...processes.values()].map((child) => child.stop()));
  await rm(cluster.dir, { recursive: true, force: true });
}

/** The process on `port`; a port the cluster never had is the caller's mistake, said plainly. */
function nodeOn(cluster: Cluster, port: number): ManagedProcess {
  const child = cluster.processes.get(port);
  if (!child) throw new Error(`no cluster node on port ${port}`);
  return child;
}

/** The cluster's view from the first node that answers: any single node may be down or paused. */
async function topology(cluster: Cluster): Promise<NodeInfo[]> {
  for (const port of cluster.processes.keys()) {
    const text = await queryNode(port, "CLUSTER", "NODES").catch(() => null);
    if (typeof text === "string") return parseClusterNodes(text);
  }
  throw new Error("no cluster node answers CLUSTER NODES");
}

/** Healthy means every running node agrees the state is ok and live masters cover all 16384 slots. */
async function healthy(cluster: Cluster): Promise<boolean> {
  const running = [...cluster.processes].filter(([, child]) => child.child.exitCode === null);
  for (const [port] of running) {
    const info = String(await queryNode(port, "CLUSTER", "INFO"));
    if (!info.includes("cluster_state:ok")) return false;
  }
  const nodes = await topology(cluster);
  const live = nodes.filter((n) => n.role === "master" && !n.failing && n.slots.length > 0);
  const covered = live.reduce((sum, n) => sum + n.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
  return covered === 16384;
}

/** Polls until healthy: a new cluster, or one after a failover, takes a few seconds to agree. */
function waitHealthy(cluster: Cluster, timeoutMs: number): Promise<void> {
  return waitUntil("the cluster is ok on every node", () => healthy(cluster), { timeoutMs, intervalMs: 100 });
}

/** The live master serving `key`'s slot now; `asked` computes the slot (any node does). */
async function masterFor(cluster: Cluster, asked: number, key: string): Promise<number> {
  const slot = Number(await queryNode(asked, "CLUSTER", "KEYSLOT", key));
  const owner = (await topology(cluster)).find(
    (n) => n.role === "master" && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b),
  );
  if (!owner) throw new Error(`no live master serves slot ${slot} (key ${key})`);
  return owner.port;
}

/** True once the node is marked failed and its slots moved; false if that never happens in time. */
function waitReplaced(cluster: Cluster, port: number, timeoutMs: number): Promise<boolean> {
  const replaced = async () => {
    const node = (await topology(cluster)).find((n) => n.port === port);
    return node?.failing === true && node.slots.length === 0;
  };
  return waitUntil(`node ${port} replaced`, replaced, { timeoutMs, intervalMs: 100 }).then(
    () => true,
    () => false,
  );
}
