/** @module The REST surface on a real 3-master Redis Cluster: path-style commands, tokens, sync token, SSE subscriptions. */
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryNode, type RedisCluster, startRedisCluster, waitUntil } from "../../../local/support";
import type { TestProxy } from "../../helpers/proxy";
import { startClusterProxy } from "../cluster/helpers";

const READ_ONLY = "cluster-read-only-token";
let cluster: RedisCluster;
let proxy: TestProxy;
let client: Redis;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  proxy = await startClusterProxy(cluster.seeds, ["--read-only-token", READ_ONLY]);
  client = new Redis({ url: proxy.url, token: proxy.token });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await cluster?.stop();
});

/** Subscriber-mode connections over every master, from CLIENT LIST. */
async function subscriberConnections(): Promise<number> {
  const lists = await Promise.all(cluster.nodes.map((n) => queryNode(n.port, "CLIENT", "LIST")));
  return lists.flatMap((list) => String(list).split("\n")).filter((line) => /\b(sub|psub)=[1-9]/.test(line))
    .length;
}

function waitForSubscribers(count: number): Promise<void> {
  return waitUntil(
    `${count} subscriber connection(s)`,
    async () => (await subscriberConnections()) === count,
  );
}

async function get(path: string, token = proxy.token) {
  const res = await fetch(`${proxy.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: res.status,
    body: (await res.json()) as unknown,
    sync: res.headers.get("upstash-sync-token"),
  };
}

describe("on a Redis Cluster", () => {
  it("runs path-style commands on every key's master, with a growing sync token", async () => {
    const owners = new Set(await Promise.all(["foo", "bar", "zap"].map((k) => cluster.masterFor(k))));
    expect(owners.size).toBeGreaterThan(1);
    const syncs: number[] = [];
    for (const key of ["foo", "bar", "zap"]) {
      const set = await get(`/set/${key}/v-${key}?EX=100`);
      expect(set.body).toEqual({ result: "OK" });
      const read = await get(`/get/${key}`);
      expect(read.body).toEqual({ result: `v-${key}` });
      syncs.push(Number(set.sync), Number(read.sync));
    }
    expect(syncs).toEqual([...syncs].sort((a, b) => a - b));
    expect(new Set(syncs).size).toBe(syncs.length);
    expect((await get("/mget/foo/bar")).body).toEqual({
      error: "CROSSSLOT Keys in request don't hash to the same slot",
    });
  });

  it("limits the read-only token to read-only commands, with ?_token= too", async () => {
    expect((await get("/get/foo", READ_ONLY)).body).toEqual({ result: "v-foo" });
    expect(await get("/del/foo", READ_ONLY)).toMatchObject({
      status: 403,
      body: {
        error:
          "ERR proxy: DEL is not allowed with the read-only token (it runs only commands Redis flags readonly)",
      },
    });
    const res = await fetch(`${proxy.url}/ttl/foo?_token=${READ_ONLY}`);
    expect(await res.json()).toEqual({ result: 100 });
  });

  it("subscribes through one master and hears messages published on any of them", async () => {
    const got: unknown[] = [];
    const patterns: unknown[] = [];
    const subscriber = client.subscribe(["events"]);
    const psubscriber = client.psubscribe(["ev*"]);
    subscriber.on("message", (data) => got.push(data.message));
    psubscriber.on("pmessage", (data) => patterns.push(data.channel));
    await waitForSubscribers(2);
    // A keyless PUBLISH goes to the masters in turn: these six reach all three. Its reply counts only
    // the subscribers of the master it ran on (Redis Cluster semantics), so it is not asserted.
    for (let n = 1; n <= 6; n++) await client.publish("events", { n });
    await waitUntil("six messages each", async () => got.length === 6 && patterns.length === 6);
    // Messages published on different masters travel the cluster bus: each arrives once, order may vary.
    expect([...got].sort((a, b) => (a as { n: number }).n - (b as { n: number }).n)).toEqual(
      [1, 2, 3, 4, 5, 6].map((n) => ({ n })),
    );
    expect(patterns).toEqual(Array(6).fill("events"));
    await Promise.all([subscriber.unsubscribe(), psubscriber.unsubscribe()]);
    await waitForSubscribers(0);
  });
});
