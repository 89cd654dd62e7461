/** @module The bucket's two clocks against real Redis: the store's TIME, the caller's at 0 ms skew, and callers skewed by a known amount. */
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../local/support";
import { type BucketClock, type LimitSpec, takeTokens } from "../../lua";
import { startTestProxy, type TestProxy } from "../helpers/proxy";

// 20 tokens a second: a skew of 250 ms is worth ceil(0.25 × 20) = 5 tokens, the documented bound.
const LIMIT: LimitSpec = { name: "b", capacity: 10, refillTokens: 20, refillIntervalMs: 1000 };
const RATE_PER_MS = LIMIT.refillTokens / LIMIT.refillIntervalMs;
const RUN_MS = 1500;

interface Run {
  admitted: number;
  /** ⌊C + r·(last − first)⌋ over the decisions' real times: what an exact bucket admits to callers that always ask. */
  envelope: number;
  /**
   * The worst `admitted so far − envelope so far` at any decision, and the worst `ideal so far − admitted
   * so far`, where the ideal is an exact bucket fed the same requests at the same real times.
   */
  over: number;
  under: number;
  clocks: Set<BucketClock>;
}

/**
 * Callers take turns on one bucket, each for RUN_MS / offsets.length, asking far faster than the refill (so
 * an exact bucket admits exactly its envelope); caller i's clock runs `offsetsMs[i]` ahead of the real one.
 * A decision's real time is the time that decided it, less the deciding caller's offset.
 */
async function hammer(client: Redis, identity: string, use: BucketClock, offsetsMs: number[]): Promise<Run> {
  const run: Run = { admitted: 0, envelope: 0, over: 0, under: 0, clocks: new Set() };
  let first = Number.NaN;
  let ideal = 0;
  let tokens: number = LIMIT.capacity;
  let previous = Number.NaN;
  for (const offsetMs of offsetsMs) {
    const until = Date.now() + RUN_MS / offsetsMs.length;
    while (Date.now() < until) {
      const result = await takeTokens(client, {
        prefix: "clock",
        identity,
        policy: "p",
        limits: [LIMIT],
        cost: 1,
        clock: { use, nowMs: Date.now() + offsetMs },
      });
      const real = result.clock === "caller" ? result.nowMs - offsetMs : result.nowMs;
      if (Number.isNaN(first)) first = real;
      if (!Number.isNaN(previous))
        tokens = Math.min(LIMIT.capacity, tokens + RATE_PER_MS * Math.max(0, real - previous));
      previous = Math.max(previous || real, real);
      if (tokens >= 1 - 1e-9) {
        tokens -= 1;
        ideal++;
      }
      run.clocks.add(result.clock);
      if (result.allowed) run.admitted++;
      run.envelope = Math.floor(LIMIT.capacity + RATE_PER_MS * (real - first) + 1e-9);
      run.over = Math.max(run.over, run.admitted - run.envelope);
      run.under = Math.max(run.under, ideal - run.admitted);
    }
  }
  return run;
}

describe("the bucket's clock", () => {
  let redis: RedisServer;
  let proxy: TestProxy;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startTestProxy(redis.url);
    client = new Redis({ url: proxy.url, token: proxy.token });
    // The script's first call (NOSCRIPT, then EVAL) is behind us before anything is measured.
    await takeTokens(client, { prefix: "c", identity: "warm", policy: "p", limits: [LIMIT], cost: 0 });
  });

  afterAll(async () => {
    await proxy?.stop();
    await redis?.stop();
  });

  it("uses the store's TIME by default and the caller's when asked, and says which", async () => {
    const farFuture = Date.UTC(2100, 0, 1);
    const store = await takeTokens(client, {
      prefix: "c",
      identity: "s",
      policy: "p",
      limits: [LIMIT],
      cost: 1,
    });
    expect(store.clock).toBe("store");
    expect(Math.abs(store.nowMs - Date.now())).toBeLessThan(60_000);
    const caller = await takeTokens(client, {
      prefix: "c",
      identity: "c",
      policy: "p",
      limits: [LIMIT],
      cost: 1,
      clock: { use: "caller", nowMs: farFuture },
    });
    expect(caller).toMatchObject({ clock: "caller", nowMs: farFuture, allowed: true });
  });

  it.each([["store"], ["caller"]] as const)(
    "decides exactly with the %s clock at 0 ms skew: no more than C + r·t, at most 1 less",
    async (use) => {
      const run = await hammer(client, `exact-${use}`, use, [0, 0, 0]);
      console.log(
        `clock ${use}, skew 0 ms: admitted ${run.admitted}, envelope ${run.envelope}, worst over ${run.over}, worst under ${run.under}`,
      );
      expect([...run.clocks]).toEqual([use]);
      expect(run.over).toBe(0);
      expect(run.under).toBeLessThanOrEqual(1);
    },
  );

  it("keeps a known skew of 250 ms between callers within ceil(skew × rate) = 5 tokens either way", async () => {
    const skewMs = 250;
    const bound = Math.ceil(skewMs * RATE_PER_MS);
    // The caller ahead takes over from the one on time (its clock jumps the bucket forward: over), then
    // hands back (the stamp is ahead of the caller on time, which refills nothing until it catches up: under).
    const run = await hammer(client, "skewed", "caller", [0, skewMs, 0]);
    console.log(
      `clock caller, skew ${skewMs} ms: admitted ${run.admitted}, envelope ${run.envelope}, worst over ${run.over}, worst under ${run.under}, bound ${bound}`,
    );
    expect(run.over).toBeLessThanOrEqual(bound);
    expect(run.under).toBeLessThanOrEqual(bound + 1);
  });
});
