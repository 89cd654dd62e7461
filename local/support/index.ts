/** @module Shared support of local/: child processes, flag parsing, system programs, private Redis servers. */
/**
 * # The support wing
 *
 * What the stack, the dev tools, the tests and the benchmarks all need and none of them owns. Nothing here
 * imports the other wings (the stack, the dev tools) or the REST proxy, so every wing can build on it.
 *
 * | folder | what it does |
 * |---|---|
 * | `process/` | the repository root, free ports, `spawnManaged` (a child with captured output, stopped in order), `waitUntil` |
 * | `launch/` | one way to start each Node part (proxy, edge instance, gateway runner) as a child process, from its plain-JS build or its source |
 * | `flags/` | command-line plumbing every entry shares: `--help`, whole-number flags, errors naming the flag |
 * | `system-deps/` | finds (on Debian as root, installs) redis-server, nginx, chromium, wrk |
 * | `redis/`, `redis-cluster/` | a private non-persistent redis-server; a local Redis Cluster with fast failover |
 * | `lua-loader/` | lets Node scripts and vitest import `lua/*.lua` as text, as the worker build does |
 * | `http-ok.sh` | the compose healthcheck: one HTTP GET with bash's `/dev/tcp`, no Node start |
 *
 * @example
 * import { startRedis, waitUntil } from "../support";
 * const redis = await startRedis();
 * await redis.stop();
 */
export { type CliSpec, failUsage, orFail, PORT_RANGE, policiesFlag, readFlags, wholeNumber } from "./flags";
export {
  type EdgeProcess,
  NODE_PARTS,
  type NodePartName,
  nodeEntry,
  type ProxyProcess,
  type ProxyProcessOptions,
  startEdgeProcess,
  startNodePart,
  startProxyProcess,
} from "./launch";
export { claimPorts, deterministicFailure, onStopRequest, type PortClaim, portHolder } from "./lifecycle";
export { freePort, type ManagedProcess, REPO_ROOT, repoPath, spawnManaged, waitUntil } from "./process";
export { pingRedis, type RedisServer, startRedis } from "./redis";
export {
  type ClusterNodeProcess,
  clusterPort,
  type NodeInfo,
  parseClusterNodes,
  queryNode,
  type RedisCluster,
  startRedisCluster,
} from "./redis-cluster";
export {
  ensureSystemDeps,
  type Machine,
  planSystemDeps,
  resolveCommand,
  SYSTEM_DEPS,
  type SystemDep,
  type SystemDepName,
  type SystemDepsPlan,
  thisMachine,
} from "./system-deps";
