/** @module Cluster suites' helpers: the REST proxy in cluster mode as a child process, POSTs, slot-picked identities. */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { freePort, spawnManaged, waitUntil } from "../../../local/process";
import type { NodeInfo } from "../../../local/redis-cluster";
import { keySlot } from "../../../local/rest-proxy";
import type { TestProxy } from "../../helpers/proxy";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * Starts `local/rest-proxy/cli.ts --redis-cluster <seeds>` on a free port with a fresh token and waits
 * until it answers `/healthz` with 200 (the cluster's slot map is loaded).
 *
 * @example
 * const proxy = await startClusterProxy(cluster.seeds, ["--timeout-ms", "500"]);
 */
export async function startClusterProxy(seeds: string[], extra: string[] = []): Promise<TestProxy> {
  const port = await freePort();
  const token = randomBytes(18).toString("hex");
  const args = ["--import", "tsx", "local/rest-proxy/cli.ts", "--port", String(port)];
  const child = spawnManaged(
    "rest-proxy",
    process.execPath,
    [...args, "--redis-cluster", seeds.join(","), ...extra],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, PROXY_TOKEN: token },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(`cluster proxy on port ${port}`, () => fetch(`${url}/healthz`).then((r) => r.ok), {
    timeoutMs: 20_000,
    process: child,
  });
  return { url, token, port, process: child, stop: () => child.stop() };
}

/** Answer of one proxy request, with how long it took. */
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
