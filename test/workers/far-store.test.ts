import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DelayRelay, startDelayRelay } from "../../bench/delay-relay";
import { type EdgeInstance, startEdge } from "../../local/stack";
import { type RedisServer, startRedis } from "../../local/support";
import { getFresh, sleep } from "../helpers/load";
import { startTestProxy, type TestProxy } from "../helpers/proxy";

// A store 20 ms away each way, decided per request (no leases): the isolate's calls in flight should grow
// past the floor of 2, so a decision is not left waiting a whole round trip for a slot.
const POLICIES = {
  prefix: "far",
  policies: { far: { limits: [{ name: "burst", capacity: 100, refill: "1/h" }], lease: "off" } },
  routes: [{ path: "/far/*", policy: "far", key: "header:x-api-key" }],
};
const CLIENTS = 10;
const REQUESTS_EACH = 10;

let redis: RedisServer;
let proxy: TestProxy;
let relay: DelayRelay;
let edge: EdgeInstance;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTestProxy(redis.url);
  relay = await startDelayRelay(proxy.port, 20);
  edge = await startEdge({
    bindings: {
      POLICIES: JSON.stringify(POLICIES),
      UPSTASH_REDIS_REST_URL: relay.url,
      UPSTASH_REDIS_REST_TOKEN: proxy.token,
      INSTANCE_ID: "edge-1",
    },
  });
});
afterAll(async () => {
  await edge?.stop();
  await relay?.close();
  await proxy?.stop();
  await redis?.stop();
});

async function inFlightLimit(): Promise<number> {
  const text = await (await getFresh(`${edge.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith('erl_store_in_flight_limit{instance="edge-1"}'));
  return Number(line?.split(" ").at(-1));
}

describe("a store 20 ms away each way", () => {
  it("grows the isolate's calls in flight past 2 while decisions wait, every decision the store's and exact", async () => {
    expect(await inFlightLimit()).toBe(2);
    let done = false;
    let peak = 0;
    const watch = (async () => {
      while (!done) {
        peak = Math.max(peak, await inFlightLimit());
        await sleep(10);
      }
    })();
    const client = async (c: number) => {
      const seen: string[] = [];
      for (let i = 0; i < REQUESTS_EACH; i++) {
        const res = await fetch(`${edge.url}/far/x`, { headers: { "x-api-key": `k-${c}-${i}` } });
        await res.arrayBuffer();
        seen.push(
          `${res.status} ${res.headers.get("X-RateLimit-Reason")} ${res.headers.get("X-RateLimit-Remaining")}`,
        );
      }
      return seen;
    };
    const answers = (await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))).flat();
    done = true;
    await watch;
    // Every key was fresh: each decision was the store's, and charged its one token exactly once.
    expect(answers).toEqual(Array(CLIENTS * REQUESTS_EACH).fill("200 allowed 99"));
    expect(peak).toBeGreaterThan(2);
    expect(peak).toBeLessThanOrEqual(16);
  });
});
