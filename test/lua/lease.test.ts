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

async function call(limits: LimitSpec[], cost: number, lease?: LeaseArgs) {
  const keys = await bucketKeys(
    "lease",
    "client",
    "p",
    limits.map((l) => l.name),
  );
  return runTokenBucket(ioredisRunner(redis.client), keys, limits, cost, lease);
}

const remaining = (r: Awaited<ReturnType<typeof call>>) => r.limits.map((l) => l.remaining);

describe("token bucket leases", () => {
  it("takes up to want, but never more than a quarter of what the bucket holds after the cost", async () => {
    const limits = [hourly("b", 100)];
    const first = await call(limits, 1, { want: 10, refund: 0 });
    expect([first.allowed, first.taken, ...remaining(first)]).toEqual([true, 10, 90]);
    const big = await call(limits, 1, { want: 1000, refund: 0 });
    // 90 - 1 = 89 left after the cost; a quarter of that is 22.
    expect([big.taken, ...remaining(big)]).toEqual([23, 67]);
  });

  it("near empty, a lease is exactly the cost: decisions go token by token", async () => {
    const limits = [hourly("b", 5)];
    const taken: number[] = [];
    for (let i = 0; i < 6; i++) taken.push((await call(limits, 1, { want: 50, refund: 0 })).taken);
    // 5 → cost 1 leaves 4, a quarter is 1 extra; then 3 left: no extra; and so on; the sixth is denied.
    expect(taken).toEqual([2, 1, 1, 1, 0, 0]);
    const denied = await call(limits, 1, { want: 50, refund: 0 });
    expect([denied.allowed, denied.reason, denied.taken]).toEqual([false, "limit_exceeded", 0]);
  });

  it("all limits or none: the extra is what the tightest limit can spare", async () => {
    const limits = [hourly("wide", 1000), hourly("narrow", 20)];
    const r = await call(limits, 2, { want: 100, refund: 0 });
    // narrow: 20 - 2 = 18, a quarter is 4 → taken 6 from both.
    expect([r.taken, ...remaining(r)]).toEqual([6, 994, 14]);
  });

  it("a refund goes back first, clamped at capacity: the bucket ends as if the tokens had never been taken", async () => {
    const limits = [hourly("b", 100)];
    await call(limits, 1, { want: 20, refund: 0 });
    const back = await call(limits, 0, { want: 0, refund: 15 });
    expect([back.allowed, back.taken, ...remaining(back)]).toEqual([true, 0, 95]);
    // More back than was ever taken: full, and a full bucket is no key at all.
    const clamped = await call(limits, 0, { want: 0, refund: 10 });
    expect(remaining(clamped)).toEqual([100]);
    expect(await redis.client.keys("lease:*")).toEqual([]);
  });

  it("a refund is written even when the take it came with is denied", async () => {
    const limits = [hourly("b", 10)];
    await call(limits, 10, { want: 10, refund: 0 });
    const r = await call(limits, 5, { want: 5, refund: 3 });
    expect([r.allowed, r.taken, ...remaining(r)]).toEqual([false, 0, 3]);
    expect(remaining(await call(limits, 0))).toEqual([3]);
  });

  it("a top-up alone (cost 0) takes only the extra; want below cost is refused", async () => {
    const limits = [hourly("b", 100)];
    const top = await call(limits, 0, { want: 8, refund: 0 });
    expect([top.allowed, top.taken, ...remaining(top)]).toEqual([true, 8, 92]);
    await expect(call(limits, 3, { want: 2, refund: 0 })).rejects.toThrow("want must be >= cost");
  });
});
