/** @module The script's merged take: one call decides `count` requests of one cost, the first `granted` in order. */
import { describe, expect, it } from "vitest";
import { bucketKeys, type LeaseArgs, type LimitSpec, runTokenBucket } from "../../lua";
import { ioredisRunner } from "../../lua/ioredis";
import { useFreshRedis } from "../helpers/redis";

const redis = useFreshRedis();

// One token an hour: nothing refills during a test, so every count is exact.
const hourly = (name: string, capacity: number): LimitSpec => ({
  name,
  capacity,
  refillTokens: 1,
  refillIntervalMs: 3_600_000,
});

async function take(limits: LimitSpec[], cost: number, count: number, lease?: LeaseArgs) {
  const keys = await bucketKeys(
    "merged",
    "client",
    "p",
    limits.map((l) => l.name),
  );
  return runTokenBucket(ioredisRunner(redis.client), keys, limits, cost, lease, count);
}

const summary = (r: Awaited<ReturnType<typeof take>>) => ({
  allowed: r.allowed,
  granted: r.granted,
  taken: r.taken,
  remaining: r.limits.map((l) => l.remaining),
  reasons: r.limits.map((l) => l.reason),
  retries: r.limits.map((l) => l.retryAfterMs),
});

describe("token bucket merged takes", () => {
  it("grants every request when all fit, taking count × cost", async () => {
    expect(summary(await take([hourly("b", 50)], 2, 10))).toEqual({
      allowed: true,
      granted: 10,
      taken: 20,
      remaining: [30],
      reasons: [null],
      retries: [0],
    });
  });

  it("grants the first ones that fit; the rest see the next token's wait after them", async () => {
    const first = await take([hourly("b", 50)], 1, 1000);
    expect(summary(first)).toEqual({
      allowed: false,
      granted: 50,
      taken: 50,
      remaining: [0],
      reasons: ["limit_exceeded"],
      retries: [3_600_000],
    });
    // Nothing left: a second merged take grants none and writes nothing.
    expect(summary(await take([hourly("b", 50)], 1, 5))).toMatchObject({
      granted: 0,
      taken: 0,
      remaining: [0],
    });
  });

  it("is bounded by the tightest limit, all-or-nothing per request", async () => {
    const r = await take([hourly("wide", 100), hourly("narrow", 7)], 3, 5);
    expect(summary(r)).toEqual({
      allowed: false,
      granted: 2,
      taken: 6,
      remaining: [94, 1],
      reasons: [null, "limit_exceeded"],
      retries: [0, 2 * 3_600_000],
    });
  });

  it("never grants a request that costs more than a capacity", async () => {
    const r = await take([hourly("b", 5)], 6, 3);
    expect(summary(r)).toEqual({
      allowed: false,
      granted: 0,
      taken: 0,
      remaining: [5],
      reasons: ["cost_exceeds_capacity"],
      retries: [null],
    });
  });

  it("takes a lease's extra only when every request was granted", async () => {
    const all = await take([hourly("b", 100)], 1, 10, { want: 41, refund: 0 });
    // 10 granted; the extra is a quarter of the 90 left, capped by want - cost = 40.
    expect([all.granted, all.taken, all.limits[0]?.remaining]).toEqual([10, 32, 68]);
    const some = await take([hourly("b", 100)], 10, 8, { want: 50, refund: 0 });
    expect([some.granted, some.taken, some.limits[0]?.remaining]).toEqual([6, 60, 8]);
  });

  it("inspects with cost 0: every request granted, nothing written", async () => {
    const r = await take([hourly("b", 9)], 0, 4);
    expect([r.allowed, r.granted, r.taken, r.limits[0]?.remaining]).toEqual([true, 4, 0, 9]);
    expect(await redis.client.keys("merged:*")).toEqual([]);
  });

  it("rejects a count below 1 with the script's error", async () => {
    await expect(take([hourly("b", 9)], 1, 0)).rejects.toThrow(/count must be >= 1/);
  });
});
