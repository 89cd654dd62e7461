/** @module Cluster suites' helpers: the REST proxy in cluster mode as a child process, POSTs, slot-picked identities. */

import { keySlot } from "../../../local/rest-proxy";
import { type NodeInfo, startProxyProcess } from "../../../local/support";
import type { TestProxy } from "../../helpers/proxy";

/**
 * Starts the proxy with `--redis-cluster <seeds>` on a free port with a fresh token and waits until it
 * answers `/healthz` with 200 (the cluster's slot map is loaded).
 *
 * @example
 * const proxy = await startClusterProxy(cluster.seeds, ["--timeout-ms", "500"]);
 */
export function startClusterProxy(seeds: string[], extra: string[] = []): Promise<TestProxy> {
  return startProxyProcess({ redisCluster: seeds, args: extra, ready: "redis" });
}

/** Whether `slot` lies in one of `node`'s slot ranges. */
export function serves(node: NodeInfo, slot: number): boolean {
  return node.slots.some(([first, last]) => slot >= first && slot <= last);
}

/**
 * The first identities `<base>-<n>` whose bucket key (`keyOf(identity)`) lands on `node`'s slots.
 *
 * @example
 * identitiesOn(master, "victim", 2, (id) => `erl:{${id}}:open:burst`); // ["victim-3", "victim-7"]
 */
export function identitiesOn(
  node: NodeInfo,
  base: string,
  count: number,
  keyOf: (identity: string) => string,
): string[] {
  const found: string[] = [];
  for (let n = 0; found.length < count && n < 100_000; n++) {
    if (serves(node, keySlot(keyOf(`${base}-${n}`)))) found.push(`${base}-${n}`);
  }
  return found;
}
