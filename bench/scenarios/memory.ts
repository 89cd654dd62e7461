/** @module Scenario 6: Redis memory per active key, and proof that idle keys expire at time-to-full. */
import { Redis as IoRedis } from "ioredis";
import { startRedis } from "../../local/support";
import { type LimitSpec, takeTokens } from "../../lua";
import { ioredisRunner } from "../../lua/ioredis";
import { usedMemory } from "../redis-stats";
import { type BenchContext, onInterrupt, sleep } from "../support";

export interface MemoryShape {
  limits: number;
  identities: number;
  keys: number;
  /** used_memory delta ÷ keys (includes the keyspace's own overhead). */
  bytesPerKeyInfo: number;
  /** Mean `MEMORY USAGE` of a sample of keys. */
  bytesPerKeyMemoryUsage: number;
  bytesPerIdentity: number;
}

export interface ExpiryCheck {
  cost: number;
  /** Time until full after taking `cost` tokens from a full C=10, r=5/s bucket. */
  timeToFullMs: number;
  keys: number;
  pttlMin: number;
  pttlMax: number;
  /** Keys still present `timeToFullMs` + 250 ms later (must be 0). */
  existingAfter: number;
}

export interface MemoryResult {
  shapes: MemoryShape[];
  expiry: ExpiryCheck[];
}

async function callAll(redis: IoRedis, count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => fn(i + j)));
  }
  await redis.ping();
}

async function measureShape(redis: IoRedis, limits: LimitSpec[], identities: number): Promise<MemoryShape> {
  const runner = ioredisRunner(redis);
  const policy = `mem${limits.length}`;
  const before = await usedMemory(redis);
  await callAll(redis, identities, (i) =>
    takeTokens(runner, { prefix: "bench", identity: `client-${i}`, policy, limits, cost: 1 }),
  );
  const after = await usedMemory(redis);
  const keys = identities * limits.length;
  const sample = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      redis.memory("USAGE", `bench:{client-${i}}:${policy}:${limits[0]?.name}`),
    ),
  );
  const usage = sample.reduce<number>((sum, n) => sum + Number(n ?? 0), 0) / sample.length;
  return {
    limits: limits.length,
    identities,
    keys,
    bytesPerKeyInfo: Math.round((after - before) / keys),
    bytesPerKeyMemoryUsage: Math.round(usage),
    bytesPerIdentity: Math.round((after - before) / identities),
  };
}

async function checkExpiry(redis: IoRedis, cost: number, count: number): Promise<ExpiryCheck> {
  const runner = ioredisRunner(redis);
  const limits = [{ name: "fast", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 }];
  const timeToFullMs = (cost * 1000) / 5;
  const identity = (i: number) => `expiry-${cost}-${i}`;
  await callAll(redis, count, (i) =>
    takeTokens(runner, { prefix: "bench", identity: identity(i), policy: "exp", limits, cost }),
  );
  const names = Array.from({ length: count }, (_, i) => `bench:{${identity(i)}}:exp:fast`);
  const pttls = await Promise.all(names.map((name) => redis.pttl(name)));
  await sleep(timeToFullMs + 250);
  const existingAfter = await redis.exists(...names);
  return {
    cost,
    timeToFullMs,
    keys: count,
    pttlMin: Math.min(...pttls),
    pttlMax: Math.max(...pttls),
    existingAfter,
  };
}

/**
 * On a private Redis: takes one token for N identities with a 1-limit and a 2-limit policy (slow refill,
 * so nothing expires meanwhile) and measures memory; then drains fast buckets and checks that every key
 * carries a PTTL of at most its time-to-full and is gone once that time has passed.
 *
 * @example
 * const result = await runMemory(ctx);
 */
export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const identities = ctx.quick ? 2000 : 10_000;
  ctx.log(`memory: ${identities} identities on a private Redis, then expiry at time-to-full`);
  const server = await startRedis();
  const forget = onInterrupt(() => server.stop());
  const redis = new IoRedis(server.url, { enableAutoPipelining: true });
  try {
    const slow = (name: string): LimitSpec => ({
      name,
      capacity: 100,
      refillTokens: 100,
      refillIntervalMs: 3_600_000,
    });
    const shapes = [
      await measureShape(redis, [slow("hour")], identities),
      await measureShape(redis, [slow("hour"), { ...slow("day"), refillIntervalMs: 86_400_000 }], identities),
    ];
    const expiry = [await checkExpiry(redis, 2, 200), await checkExpiry(redis, 10, 200)];
    for (const s of shapes)
      ctx.log(
        `memory: ${s.limits} limit(s): ${s.bytesPerKeyInfo} B/key (INFO), ${s.bytesPerKeyMemoryUsage} B/key (MEMORY USAGE)`,
      );
    for (const e of expiry)
      ctx.log(
        `memory: cost ${e.cost}: PTTL ${e.pttlMin}–${e.pttlMax} ms (time-to-full ${e.timeToFullMs} ms), ${e.existingAfter} left after`,
      );
    const bad = expiry.find((e) => e.existingAfter > 0 || e.pttlMax > e.timeToFullMs || e.pttlMin <= 0);
    if (bad) throw new Error(`memory: keys did not expire at time-to-full: ${JSON.stringify(bad)}`);
    return { shapes, expiry };
  } finally {
    redis.disconnect();
    await server.stop();
    forget();
  }
}
