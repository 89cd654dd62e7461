import clusterKeySlot from "cluster-key-slot";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../local/support";
import { bucketKeys, type LimitSpec, takeTokens } from "../../lua";
import { ioredisRunner } from "../../lua/ioredis";

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await redis.flushall();
});

const perSecond = (name: string, capacity: number, tokens: number): LimitSpec => ({
  name,
  capacity,
  refillTokens: tokens,
  refillIntervalMs: 1000,
});
const PER_HOUR: LimitSpec = { name: "hour", capacity: 100, refillTokens: 1, refillIntervalMs: 3_600_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function take(limits: LimitSpec[], cost = 1, identity = "client-1", client: Redis = redis) {
  return takeTokens(ioredisRunner(client), { prefix: "t", identity, policy: "p", limits, cost });
}

describe("token bucket", () => {
  it("allows exactly capacity calls, counting remaining down, then denies for one refill interval", async () => {
    const limits = [{ name: "b", capacity: 5, refillTokens: 1, refillIntervalMs: 60_000 }];
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await take(limits);
      expect(r.allowed).toBe(true);
      remaining.push(r.limits[0]?.remaining ?? -1);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const denied = await take(limits);
    expect(denied).toMatchObject({ allowed: false, reason: "limit_exceeded", deniedBy: ["b"] });
    expect(denied.limits[0]?.remaining).toBe(0);
    // One token takes 60 s; a few ms have passed since the first call.
    expect(denied.retryAfterMs).toBeGreaterThan(59_000);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it("refills continuously: ~300 ms after draining a 10/s bucket, 3 (±1) more are allowed", async () => {
    const limits = [perSecond("b", 10, 10)];
    for (let i = 0; i < 10; i++) expect((await take(limits)).allowed).toBe(true);
    expect((await take(limits)).allowed).toBe(false);
    await sleep(300);
    let allowed = 0;
    for (let i = 0; i < 10; i++) if ((await take(limits)).allowed) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(2);
    expect(allowed).toBeLessThanOrEqual(4);
  });

  it("writes nothing on a denial: raw value and PTTL are unchanged", async () => {
    const limits = [{ name: "b", capacity: 2, refillTokens: 1, refillIntervalMs: 3_600_000 }];
    const [key] = await bucketKeys("t", "client-1", "p", ["b"]);
    await take(limits);
    await take(limits);
    const before = [await redis.get(key as string), await redis.pttl(key as string)];
    expect((await take(limits)).allowed).toBe(false);
    const after = [await redis.get(key as string), await redis.pttl(key as string)];
    expect(after[0]).toBe(before[0]);
    expect(Math.abs(Number(after[1]) - Number(before[1]))).toBeLessThanOrEqual(5);
  });

  it("is all-or-nothing across limits: denied by one, consumed from neither", async () => {
    const wide = perSecond("wide", 10, 1);
    const narrow = { name: "narrow", capacity: 2, refillTokens: 1, refillIntervalMs: 3_600_000 };
    await take([narrow], 2);
    const r = await take([wide, narrow]);
    expect(r).toMatchObject({ allowed: false, reason: "limit_exceeded", deniedBy: ["narrow"] });
    expect(r.limits.map((l) => [l.name, l.remaining, l.reason])).toEqual([
      ["wide", 10, null],
      ["narrow", 0, "limit_exceeded"],
    ]);
    const [wideKey] = await bucketKeys("t", "client-1", "p", ["wide"]);
    expect(await redis.exists(wideKey as string)).toBe(0);
    expect((await take([wide], 0)).limits[0]?.remaining).toBe(10);
  });

  it("denies cost > capacity with its own reason and writes nothing", async () => {
    const r = await take([perSecond("a", 10, 1), perSecond("b", 3, 1)], 5);
    expect(r).toMatchObject({
      allowed: false,
      reason: "cost_exceeds_capacity",
      deniedBy: ["b"],
      retryAfterMs: null,
    });
    expect(r.limits[1]).toMatchObject({ reason: "cost_exceeds_capacity", retryAfterMs: null, remaining: 3 });
    expect(await redis.dbsize()).toBe(0);
  });

  it("inspects with cost 0: returns the state and writes nothing", async () => {
    const limits = [PER_HOUR];
    const fresh = await take(limits, 0);
    expect(fresh).toMatchObject({ allowed: true, reason: null, retryAfterMs: 0 });
    expect(fresh.limits[0]).toMatchObject({ remaining: 100, resetMs: 0, retryAfterMs: 0 });
    expect(await redis.dbsize()).toBe(0);
    await take(limits, 7);
    const [key] = await bucketKeys("t", "client-1", "p", ["hour"]);
    const raw = await redis.get(key as string);
    const state = await take(limits, 0);
    expect(state.limits[0]?.remaining).toBe(93);
    expect(await redis.get(key as string)).toBe(raw);
  });

  it("sets the TTL to time-until-full, and the key vanishes when the bucket is full", async () => {
    const limits = [{ name: "b", capacity: 10, refillTokens: 10, refillIntervalMs: 1000 }];
    const r = await take(limits, 3);
    const [key] = await bucketKeys("t", "client-1", "p", ["b"]);
    expect(r.limits[0]?.resetMs).toBe(300);
    const pttl = await redis.pttl(key as string);
    expect(pttl).toBeGreaterThanOrEqual(295);
    expect(pttl).toBeLessThanOrEqual(300);
    await sleep(350);
    expect(await redis.exists(key as string)).toBe(0);
  });

  it("admits exactly capacity under 2000 concurrent calls from 20 connections", async () => {
    const clients = Array.from({ length: 20 }, () => new Redis(server.url));
    try {
      const results = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => take([PER_HOUR], 1, "hot", clients[i % 20])),
      );
      expect(results.filter((r) => r.allowed).length).toBe(100);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it("refills a 1000/d bucket exactly after simulated elapsed time, without float drift", async () => {
    const day = { name: "day", capacity: 1000, refillTokens: 1000, refillIntervalMs: 86_400_000 };
    await take([day], 1000);
    const [key] = await bucketKeys("t", "client-1", "p", ["day"]);
    const [units, stamp] = String(await redis.get(key as string))
      .split(" ")
      .map(Number);
    expect(units).toBe(0);
    // Pretend 12 h + 1 ms passed: 500 whole tokens, plus 1 ms worth of refill that must not round up.
    await redis.set(key as string, `0 ${Number(stamp) - 43_200_001}`, "PX", 86_400_000);
    const state = await take([day], 0);
    expect(state.limits[0]?.remaining).toBe(500);
    // Time-to-full is the other 12 h less that 1 ms (and less the few ms since the SET).
    expect(state.limits[0]?.resetMs).toBeLessThanOrEqual(43_199_999);
    expect(state.limits[0]?.resetMs).toBeGreaterThan(43_199_900);
    // Taking the 500, then one more: the 501st needs a full 86.4 s token minus the 1 ms already refilled.
    expect((await take([day], 500)).allowed).toBe(true);
    const denied = await take([day], 1);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(86_300);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(86_400 - 1);
  });

  it("falls back to EVAL after SCRIPT FLUSH (NOSCRIPT)", async () => {
    await take([PER_HOUR]);
    await redis.script("FLUSH");
    const r = await take([PER_HOUR]);
    expect(r.allowed).toBe(true);
    expect(r.limits[0]?.remaining).toBe(98);
  });
});

describe("bucket keys", () => {
  it("keeps safe identities readable and under the prefix", async () => {
    expect(await bucketKeys("erl", "203.0.113.7", "api", ["second", "day"])).toEqual([
      "erl:{203.0.113.7}:api:second",
      "erl:{203.0.113.7}:api:day",
    ]);
  });

  it("hashes braces, control characters, the marker and long values into one slot under the prefix", async () => {
    const hostile = ["a}b{c", "}", "x\ny", "\u0000", "~abc", "é".repeat(65), "k".repeat(10_000), ""];
    const seen = new Set<string>();
    for (const identity of hostile) {
      const keys = await bucketKeys("erl", identity, "api", ["second", "day"]);
      for (const key of keys) expect(key).toMatch(/^erl:\{~[0-9a-f]{32}\}:api:(second|day)$/);
      seen.add(keys[0] as string);
      expect(new Set(keys.map((k) => clusterKeySlot(k))).size).toBe(1);
    }
    expect(seen.size).toBe(hostile.length);
    expect(await bucketKeys("erl", "日本語-ключ", "api", ["day"])).toEqual(["erl:{日本語-ключ}:api:day"]);
    expect(await bucketKeys("erl", "k".repeat(10_000), "api", ["day"])).toEqual(
      await bucketKeys("erl", "k".repeat(10_000), "api", ["day"]),
    );
  });

  it("rejects names that would break the key layout (a bug, so it throws)", async () => {
    await expect(bucketKeys("erl", "x", "a:b", ["day"])).rejects.toThrow(/invalid policy name/);
    await expect(bucketKeys("erl", "x", "api", ["d}"])).rejects.toThrow(/invalid limit name/);
  });
});
