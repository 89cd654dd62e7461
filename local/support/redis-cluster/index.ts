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
  const cli = join(server, "..", "redis-cli");
  const dir = await mkdtemp(join(tmpdir(), "erl-redis-cluster-"));
  const processes = new Map<number, ManagedProcess>();

  async function startNode(port: number): Promise<ManagedProcess> {
    const args = [
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--logfile", ""],
      ...["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`],
      ...["--cluster-node-timeout", String(nodeTimeoutMs), "--cluster-require-full-coverage", "no"],
      ...["--cluster-replica-validity-factor", "0", "--save", "", "--appendonly", "no"],
      // The nodes share one directory. A replica's full sync writes the snapshot to its dbfilename and loads
      // it from there: with one dump.rdb for all, replicas syncing at once could load each other's.
      ...["--dbfilename", `dump-${port}.rdb`],
    ];
    const child = spawnManaged(`redis-${port}`, server, args);
    processes.set(port, child);
    await waitUntil(`cluster node on port ${port}`, () => pingRedis(port), {
      timeoutMs: 10_000,
      process: child,
    });
    return child;
  }

  async function stop(): Promise<void> {
    // A node paused with SIGSTOP would sit on SIGTERM until the SIGKILL grace period ran out.
    for (const child of processes.values()) if (child.child.exitCode === null) child.child.kill("SIGCONT");
    await Promise.all([...processes.values()].map((child) => child.stop()));
    await rm(dir, { recursive: true, force: true });
  }

  async function topology(): Promise<NodeInfo[]> {
    for (const port of processes.keys()) {
      const text = await queryNode(port, "CLUSTER", "NODES").catch(() => null);
      if (typeof text === "string") return parseClusterNodes(text);
    }
    throw new Error("no cluster node answers CLUSTER NODES");
  }

  async function healthy(): Promise<boolean> {
    const running = [...processes].filter(([, child]) => child.child.exitCode === null);
    for (const [port] of running) {
      const info = String(await queryNode(port, "CLUSTER", "INFO"));
      if (!info.includes("cluster_state:ok")) return false;
    }
    const nodes = await topology();
    const live = nodes.filter((n) => n.role === "master" && !n.failing && n.slots.length > 0);
    const covered = live.reduce((sum, n) => sum + n.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
    return covered === 16384;
  }

  try {
    const ports: number[] = [];
    const taken = new Set<number>();
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      const port = await clusterPort(taken);
      taken.add(port);
      ports.push(port);
    }
    await Promise.all(ports.map(startNode));
    const addresses = ports.map((port) => `127.0.0.1:${port}`);
    await run(cli, [
      ...["--cluster", "create", ...addresses],
      ...["--cluster-replicas", String(replicasPerMaster), "--cluster-yes"],
    ]);
    await waitUntil("the cluster is ok on every node", healthy, { timeoutMs: 30_000, intervalMs: 100 });
    const roles = new Map((await topology()).map((n) => [n.port, n.role]));
    const nodes = ports.map((port) => {
      const child = processes.get(port) as ManagedProcess;
      return { port, pid: child.pid, role: roles.get(port) ?? "replica", process: child };
    });
    return {
      nodes,
      seeds: ports.map((port) => `redis://127.0.0.1:${port}`),
      topology,
      async masterFor(key) {
        const slot = Number(await queryNode(ports[0] as number, "CLUSTER", "KEYSLOT", key));
        const owner = (await topology()).find(
          (n) => n.role === "master" && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b),
        );
        if (!owner) throw new Error(`no live master serves slot ${slot} (key ${key})`);
        return owner.port;
      },
      async killNode(port) {
        const child = processes.get(port);
        if (!child) throw new Error(`no cluster node on port ${port}`);
        child.child.kill("SIGKILL");
        await child.exited;
      },
      signalNode(port, signal) {
        const child = processes.get(port);
        if (!child) throw new Error(`no cluster node on port ${port}`);
        child.child.kill(signal);
      },
      waitReplaced(port, timeoutMs = 15_000) {
        const replaced = async () => {
          const node = (await topology()).find((n) => n.port === port);
          return node?.failing === true && node.slots.length === 0;
        };
        return waitUntil(`node ${port} replaced`, replaced, { timeoutMs, intervalMs: 100 }).then(
          () => true,
          () => false,
        );
      },
      restartNode: startNode,
      waitHealthy: (timeoutMs = 30_000) =>
        waitUntil("the cluster is ok on every node", healthy, { timeoutMs, intervalMs: 100 }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
