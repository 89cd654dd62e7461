/** @module Conformance: the real @upstash/redis client, default options and without auto-pipelining, against the proxy. */
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../../local/support";
import { startTestProxy, type TestProxy } from "../../helpers/proxy";

let redis: RedisServer;
let proxy: TestProxy;
let direct: IORedis;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTestProxy(redis.url);
  direct = new IORedis(redis.url);
});

afterAll(async () => {
  direct?.disconnect();
  await proxy?.stop();
  await redis?.stop();
});

const modes = [
  { mode: "default options", options: {} },
  { mode: "auto-pipelining off", options: { enableAutoPipelining: false } },
] as const;

describe.each(modes)("@upstash/redis with $mode", ({ mode, options }) => {
  let client: Redis;
  const key = (name: string) => `${mode}:${name}`;

  beforeAll(() => {
    client = new Redis({ url: proxy.url, token: proxy.token, ...options });
  });

  it("round-trips strings and numbers", async () => {
    expect(await client.set(key("s"), "hello")).toBe("OK");
    expect(await client.get(key("s"))).toBe("hello");
    expect(await client.set(key("n"), 42)).toBe("OK");
    expect(await client.get(key("n"))).toBe(42);
    expect(await client.incr(key("c"))).toBe(1);
    expect(await client.incrby(key("c"), 5)).toBe(6);
    expect(await client.incrbyfloat(key("f"), 1.5)).toBe(1.5);
    expect(await direct.get(key("n"))).toBe("42");
  });

  it("round-trips hashes, lists, sets and sorted sets", async () => {
    expect(await client.hset(key("h"), { a: "1", b: "x" })).toBe(2);
    expect(await client.hget(key("h"), "b")).toBe("x");
    expect(await client.hgetall(key("h"))).toEqual({ a: 1, b: "x" });
    expect(await client.rpush(key("l"), "a", "b", "c")).toBe(3);
    expect(await client.lrange(key("l"), 0, -1)).toEqual(["a", "b", "c"]);
    expect(await client.lpop(key("l"))).toBe("a");
    expect(await client.sadd(key("set"), "x", "y")).toBe(2);
    expect((await client.smembers(key("set"))).sort()).toEqual(["x", "y"]);
    expect(await client.sismember(key("set"), "y")).toBe(1);
    expect(await client.zadd(key("z"), { score: 1, member: "one" }, { score: 2.5, member: "two" })).toBe(2);
    expect(await client.zrange(key("z"), 0, -1, { withScores: true })).toEqual(["one", 1, "two", 2.5]);
    expect(await client.zscore(key("z"), "two")).toBe(2.5);
  });

  it("returns nil as null, alone and inside arrays", async () => {
    await client.set(key("present"), "here");
    expect(await client.get(key("missing"))).toBeNull();
    expect(await client.hget(key("missing-hash"), "f")).toBeNull();
    expect(await client.mget(key("present"), key("missing"))).toEqual(["here", null]);
  });

  it("returns nested arrays from a script", async () => {
    const reply = await client.eval("return {1, {'a', {'b', 2}}, 'c', {}}", [], []);
    expect(reply).toEqual([1, ["a", ["b", 2]], "c", []]);
  });

  it("keeps unicode, binary-looking strings, 'OK' and base64-looking values intact", async () => {
    const values = [
      "héllo wörld 🚀 日本語",
      "\u0000\u0001\u0002\u00ff\u0080 tail",
      "aGVsbG8=",
      "OK",
      "T0s=",
      "",
      "null",
      " leading and trailing ",
    ];
    for (const [i, value] of values.entries()) {
      expect(await client.set(key(`v${i}`), value)).toBe("OK");
      expect(await client.get(key(`v${i}`))).toBe(value === "null" ? null : value);
      expect(await direct.getBuffer(key(`v${i}`))).toEqual(Buffer.from(value, "utf8"));
    }
  });

  it("round-trips a 500 KB value", async () => {
    const big = Array.from({ length: 60_000 }, (_, i) => `v${i % 10}é-row`).join("|");
    expect(Buffer.byteLength(big)).toBeGreaterThan(500_000);
    expect(await client.set(key("big"), big)).toBe("OK");
    expect(await client.get(key("big"))).toBe(big);
    expect(await client.strlen(key("big"))).toBe(Buffer.byteLength(big));
  });

  it("runs eval, scriptLoad and evalsha", async () => {
    const script = "return {KEYS[1], ARGV[1], redis.call('incr', KEYS[1])}";
    expect(await client.eval(script, [key("e")], ["arg"])).toEqual([key("e"), "arg", 1]);
    const sha = await client.scriptLoad(script);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await direct.call("script", "exists", sha)).toEqual([1]);
    expect(await client.evalsha(sha, [key("e")], ["again"])).toEqual([key("e"), "again", 2]);
  });

  it("falls back from EVALSHA to EVAL after SCRIPT FLUSH (createScript)", async () => {
    const script = client.createScript(`return "${mode}:" .. ARGV[1]`);
    expect(await script.exec([], ["first"])).toBe(`${mode}:first`);
    expect(await direct.script("FLUSH")).toBe("OK");
    expect(await script.exec([], ["second"])).toBe(`${mode}:second`);
    expect(await script.evalsha([], ["third"])).toBe(`${mode}:third`);
  });

  it("answers a pipeline with a failing command in the middle", async () => {
    const pipeline = client.pipeline();
    pipeline.set(key("p"), "text");
    pipeline.incr(key("p"));
    pipeline.get(key("p"));
    expect(await pipeline.exec({ keepErrors: true })).toEqual([
      { result: "OK", error: undefined },
      { result: undefined, error: "ERR value is not an integer or out of range" },
      { result: "text", error: undefined },
    ]);
    const failing = client.pipeline().set(key("p"), "text").incr(key("p")).get(key("p"));
    await expect(failing.exec()).rejects.toThrow(
      "Command 2 [ incr ] failed: ERR value is not an integer or out of range",
    );
  });

  it("runs concurrent multi() transactions atomically, never nested", async () => {
    const counter = key("tx");
    const transactions = Array.from({ length: 10 }, () => {
      const tx = client.multi();
      for (let i = 0; i < 5; i++) tx.incr(counter);
      return tx.exec<number[]>();
    });
    const results = await Promise.all(transactions);
    for (const result of results) {
      expect(result).toHaveLength(5);
      const first = result[0] as number;
      expect(result).toEqual([first, first + 1, first + 2, first + 3, first + 4]);
    }
    const all = results.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("shares HTTP requests for concurrent commands when auto-pipelining is on", async () => {
    const before = (client as unknown as { pipelineCounter?: number }).pipelineCounter ?? 0;
    // The client batches reads and writes separately, so these are all writes.
    const replies = await Promise.all([
      client.set(key("a1"), "1"),
      client.incr(key("a2")),
      client.incr(key("a1")),
    ]);
    expect(replies).toEqual(["OK", 1, 2]);
    const after = (client as unknown as { pipelineCounter?: number }).pipelineCounter ?? 0;
    expect(after - before).toBe(mode === "default options" ? 1 : 0);
  });
});
