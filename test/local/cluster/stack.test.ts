/** @module `npm start -- --redis-cluster`: the launcher on a 3-master/3-replica cluster, exact across instances, failover under supervision. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManagedProcess, parseClusterNodes, queryNode, waitUntil } from "../../../local/support";
import { alive, sharedBucketBurst, startLauncher } from "../../helpers/launcher";

const POLICIES = {
  policies: {
    shared: { limits: [{ name: "burst", capacity: 50, refill: "1/h" }], onError: "closed", timeoutMs: 5000 },
  },
  routes: [{ path: "/shared/*", policy: "shared", key: "header:x-client" }],
};

let launcher: ManagedProcess;
let url: string;
const nodes: Array<{ name: string; port: number; pid: number; role: string }> = [];

beforeAll(async () => {
  ({ process: launcher, url } = await startLauncher(POLICIES, ["--redis-cluster", "--no-demo"]));
  for (const [, name, port, pid, role] of launcher
    .output()
    .matchAll(/^(redis-\d)\s+127\.0\.0\.1:(\d+)\s+(\d+)\s+(master|replica)/gm)) {
    nodes.push({ name: name as string, port: Number(port), pid: Number(pid), role: role as string });
  }
}, 120_000);

afterAll(async () => {
  await launcher?.stop(15_000);
});

const shared = (client: string) => fetch(`${url}/shared/x`, { headers: { "x-client": client } });

describe("npm start -- --redis-cluster", () => {
  it("lists 6 cluster nodes with their roles in the status table, and the proxy uses them", async () => {
    expect(nodes.map((n) => n.role).sort()).toEqual([
      "master",
      "master",
      "master",
      "replica",
      "replica",
      "replica",
    ]);
    expect(launcher.output()).toMatch(/Starting a 3-master\/3-replica Redis Cluster/);
    expect(launcher.output()).toMatch(/^rest-proxy\s+\S+\s+\d+/m);
    const info = String(await queryNode(nodes[0]?.port as number, "CLUSTER", "INFO"));
    expect(info).toContain("cluster_state:ok");
  });

  it("enforces one bucket across instances: 300 concurrent requests, exactly 50 allowed, all 3 deciding", async () => {
    const burst = await sharedBucketBurst(url, "cluster-bucket");
    expect(burst).toEqual({ allowed: 50, denied: 250, servedBy: new Set(["edge-1", "edge-2", "edge-3"]) });
  });

  it("a killed master is replaced by its replica, restarted by the supervisor and rejoins as a replica; exact again", async () => {
    const master = nodes.find((n) => n.role === "master") as (typeof nodes)[number];
    process.kill(master.pid, "SIGKILL");
    await waitUntil(
      `${master.name} restarted`,
      async () => new RegExp(`↻ ${master.name} restarted \\(pid \\d+\\)`).test(launcher.output()),
      { timeoutMs: 30_000 },
    );
    const other = nodes.find((n) => n.port !== master.port) as (typeof nodes)[number];
    await waitUntil(
      `${master.name} is a replica of the promoted node`,
      async () => {
        const view = parseClusterNodes(String(await queryNode(other.port, "CLUSTER", "NODES")));
        const node = view.find((n) => n.port === master.port);
        return (
          node?.role === "replica" && !node.failing && view.filter((n) => n.role === "master").length === 3
        );
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // The proxy learns the new topology on its next MOVED or connection error: wait until clients on
    // every master get answers again, then the bucket must be exact again.
    await waitUntil(
      "every master decides again",
      async () => {
        const statuses = await Promise.all(
          Array.from({ length: 30 }, (_, i) => shared(`after-${i}-${Date.now()}`).then((r) => r.status)),
        );
        return statuses.every((s) => s === 200);
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    const burst = await sharedBucketBurst(url, "after-failover");
    expect(burst).toEqual({ allowed: 50, denied: 250, servedBy: new Set(["edge-1", "edge-2", "edge-3"]) });
  }, 60_000);

  it("leaves no process behind after SIGTERM", async () => {
    const restarted = [...launcher.output().matchAll(/↻ redis-\d restarted \(pid (\d+)\)/g)].map((m) =>
      Number(m[1]),
    );
    const pids = [...nodes.map((n) => n.pid), ...restarted];
    launcher.child.kill("SIGTERM");
    expect(await launcher.exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  });
});
