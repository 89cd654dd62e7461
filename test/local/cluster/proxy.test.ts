/** @module The REST proxy on a real 3-master Redis Cluster: slot routing, split pipelines, CROSSSLOT, scripts on every master. */
import { createHash } from "node:crypto";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CROSSSLOT_MESSAGE, guardScript, keySlot, stripShebangFlags } from "../../../local/rest-proxy";
import { queryNode, type RedisCluster, startRedisCluster } from "../../../local/support";
import { bucketKeys, type LimitSpec, TOKEN_BUCKET_LUA, takeTokens, tokenBucketSha1 } from "../../../lua";
import type { TestProxy } from "../../helpers/proxy";
import { post } from "../../helpers/proxy";
import { serves, startClusterProxy } from "./helpers";

let cluster: RedisCluster;
let proxy: TestProxy;
let masters: number[];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  masters = cluster.nodes.filter((n) => n.role === "master").map((n) => n.port);
  proxy = await startClusterProxy(cluster.seeds);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await cluster?.stop();
});

async function keysOn(port: number, pattern: string): Promise<string[]> {
  return (await queryNode(port, "KEYS", pattern)) as string[];
}

describe("a request's keys share one slot", () => {
  const hostile = ["203.0.113.7", "a}b{c", "{}", "}{", "x".repeat(500), "~abc", "ключ", "\u0000\n{", ""];

  it("bucketKeys puts every limit of a policy in the identity's slot, as CLUSTER KEYSLOT computes it", async () => {
    for (const identity of hostile) {
      const keys = await bucketKeys("erl", identity, "api", ["second", "minute", "day"]);
      const slots = await Promise.all(
        keys.map((k) => queryNode(masters[0] as number, "CLUSTER", "KEYSLOT", k)),
      );
      expect(new Set(slots).size, `identity ${JSON.stringify(identity)}`).toBe(1);
      expect(slots[0]).toBe(keySlot(keys[0] as string));
    }
  });

  it("the proxy's slot function agrees with Redis on plain keys, tags and empty tags", async () => {
    for (const key of ["foo", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "{a}{b}", "ü", ""]) {
      expect(keySlot(key), key).toBe(await queryNode(masters[0] as number, "CLUSTER", "KEYSLOT", key));
    }
  });
});

describe("commands route by slot", () => {
  it("single commands reach the key's master; keys spread over all 3 masters; DBSIZE sums them", async () => {
    const before = ((await post(proxy, ["dbsize"])).body as { result: number }).result;
    for (let i = 0; i < 60; i++)
      expect((await post(proxy, ["set", `spread:${i}`, String(i)])).status).toBe(200);
    const perMaster = await Promise.all(masters.map((port) => keysOn(port, "spread:*")));
    expect(perMaster.every((keys) => keys.length > 0)).toBe(true);
    expect(perMaster.flat().length).toBe(60);
    expect(await post(proxy, ["dbsize"])).toMatchObject({ status: 200, body: { result: before + 60 } });
    expect(await post(proxy, ["get", "spread:42"])).toMatchObject({ status: 200, body: { result: "42" } });
  });

  it("a pipeline whose commands live on different masters answers every entry, in order", async () => {
    const commands = Array.from({ length: 30 }, (_, i) => ["incr", `pipe:${i}`]);
    const answer = await post(proxy, [...commands, ["get", "pipe:7"], ["mget", "{t}a", "{t}b"]], "/pipeline");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([
      ...commands.map(() => ({ result: 1 })),
      { result: "1" },
      { result: [null, null] },
    ]);
  });

  it("a multi-key command across slots is a CROSSSLOT error, alone or as one pipeline entry", async () => {
    expect(await post(proxy, ["mget", "a", "b"])).toMatchObject({
      status: 400,
      body: { error: CROSSSLOT_MESSAGE },
    });
    const answer = await post(
      proxy,
      [
        ["set", "solo", "1"],
        ["mget", "a", "b"],
        ["get", "solo"],
      ],
      "/pipeline",
    );
    expect(answer.body).toEqual([{ result: "OK" }, { error: CROSSSLOT_MESSAGE }, { result: "1" }]);
  });

  it("MULTI/EXEC runs when all keys share a slot, and is refused with CROSSSLOT (nothing runs) when not", async () => {
    const same = await post(
      proxy,
      [
        ["incr", "{tx}:a"],
        ["incr", "{tx}:b"],
        ["get", "{tx}:a"],
      ],
      "/multi-exec",
    );
    expect(same).toMatchObject({ status: 200, body: [{ result: 1 }, { result: 1 }, { result: "1" }] });
    const cross = await post(
      proxy,
      [
        ["incr", "txa"],
        ["incr", "txb"],
      ],
      "/multi-exec",
    );
    expect(cross).toMatchObject({ status: 400, body: { error: CROSSSLOT_MESSAGE } });
    expect(await post(proxy, ["exists", "txa"])).toMatchObject({ body: { result: 0 } });
  });

  it("concurrent transactions never interleave", async () => {
    const txs = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(
          proxy,
          Array.from({ length: 5 }, () => ["incr", "{conc}:n"]),
          "/multi-exec",
        ),
      ),
    );
    for (const tx of txs) {
      const values = (tx.body as Array<{ result: number }>).map((e) => e.result);
      expect(values).toEqual(values.map((_, i) => (values[0] as number) + i));
    }
  });

  it("keeps the refused-command policy and survives a hostile numkeys", async () => {
    expect((await post(proxy, ["flushall"])).body).toMatchObject({ error: expect.stringMatching(/refused/) });
    expect((await post(proxy, ["multi"])).status).toBe(400);
    const hostile = await post(proxy, ["evalsha", "0".repeat(40), "99999999999", "k"]);
    expect(hostile.status).toBe(400);
    expect(hostile.ms).toBeLessThan(1000);
  });
});

describe("scripts on a cluster", () => {
  it("SCRIPT LOAD and SCRIPT FLUSH reach every master; SCRIPT EXISTS is true only when all have it", async () => {
    const sha = await tokenBucketSha1();
    // The nodes hold the script as --upstash-semantics runs it: flags stripped, the key guard in front.
    const guarded = guardScript(stripShebangFlags(TOKEN_BUCKET_LUA), { checkKeys: true, refuseTime: false });
    const nodeSha = createHash("sha1").update(guarded).digest("hex");
    expect(await post(proxy, ["script", "load", TOKEN_BUCKET_LUA])).toMatchObject({ body: { result: sha } });
    for (const port of masters) expect(await queryNode(port, "SCRIPT", "EXISTS", nodeSha)).toEqual([1]);
    expect(await post(proxy, ["script", "exists", sha])).toMatchObject({ body: { result: [1] } });
    await queryNode(masters[1] as number, "SCRIPT", "FLUSH");
    expect(await post(proxy, ["script", "exists", sha])).toMatchObject({ body: { result: [0] } });
    expect(await post(proxy, ["script", "flush"])).toMatchObject({ status: 200 });
    for (const port of masters) expect(await queryNode(port, "SCRIPT", "EXISTS", nodeSha)).toEqual([0]);
  });

  it("300 concurrent decisions for one key on a 50-token bucket: exactly 50 allowed", async () => {
    const limits: LimitSpec[] = [
      { name: "burst", capacity: 50, refillTokens: 1, refillIntervalMs: 3_600_000 },
    ];
    const clients = [0, 1, 2].map(() => new Redis({ url: proxy.url, token: proxy.token }));
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        takeTokens(clients[i % 3] as Redis, { prefix: "ex", identity: "one", policy: "p", limits, cost: 1 }),
      ),
    );
    expect(results.filter((r) => r.allowed).length).toBe(50);
    const key = `ex:{one}:p:burst`;
    const owner = (await cluster.topology()).find((n) => n.role === "master" && serves(n, keySlot(key)));
    expect(await keysOn(owner?.port as number, "ex:*")).toEqual([key]);
  });

  it("decisions for many identities land on all 3 masters", async () => {
    const limits: LimitSpec[] = [
      { name: "second", capacity: 5, refillTokens: 5, refillIntervalMs: 1000 },
      { name: "day", capacity: 100, refillTokens: 100, refillIntervalMs: 86_400_000 },
    ];
    const client = new Redis({ url: proxy.url, token: proxy.token });
    const results = await Promise.all(
      Array.from({ length: 90 }, (_, i) =>
        takeTokens(client, { prefix: "many", identity: `user-${i}`, policy: "api", limits, cost: 1 }),
      ),
    );
    expect(results.every((r) => r.allowed && r.limits[1]?.remaining === 99)).toBe(true);
    const perMaster = await Promise.all(masters.map((port) => keysOn(port, "many:*")));
    expect(perMaster.map((keys) => keys.length > 0)).toEqual([true, true, true]);
    expect(perMaster.flat().length).toBe(180);
  });
});
