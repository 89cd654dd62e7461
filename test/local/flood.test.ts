/** @module A flood on the real stack with default policy settings: a busy store is waited for, never failed open. */
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../local/stack";
import { bucketKeys, runTokenBucket } from "../../lua";
import { ioredisRunner } from "../../lua/ioredis";

const CHECK_TOKEN = "flood-check-token";
const fifty = { name: "burst", capacity: 50, refill: "1/h" };
// No timeoutMs, maxWaitMs or onError anywhere: the documented defaults must hold a flood.
const POLICIES = {
  policies: { p50: { limits: [fifty] } },
  routes: [{ path: "/flood/*", policy: "p50", key: "header:x-client" }],
};

let stack: Stack;
let raw: IoRedis;

beforeAll(async () => {
  stack = await startStack({
    port: 0,
    proxyPort: 0,
    instances: 3,
    policies: JSON.stringify(POLICIES),
    checkToken: CHECK_TOKEN,
  });
  raw = new IoRedis(stack.redisUrl);
}, 120_000);
afterAll(async () => {
  // How close the flood came to the default timeoutMs: the figure operators size it from.
  for (const edge of stack?.edgeUrls ?? []) {
    const text = await (await fetch(`${edge}/metrics`)).text();
    console.log(`${edge}: ${text.split("\n").find((l) => l.startsWith("erl_store_longest_silence_ms"))}`);
  }
  raw?.disconnect();
  await stack?.stop();
});

interface Answer {
  status: number;
  reason: string | null;
  servedBy: string | null;
}

async function flood(count: number, send: (i: number) => Promise<Response>): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await send(i);
      await res.arrayBuffer();
      return {
        status: res.status,
        reason: res.headers.get("X-RateLimit-Reason"),
        servedBy: res.headers.get("X-Served-By"),
      };
    }),
  );
}

function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status} ${a.reason}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const check = (key: string) =>
  fetch(`${stack.url}/v1/check`, {
    method: "POST",
    headers: { Authorization: `Bearer ${CHECK_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ policy: "p50", key }),
  });

describe("a flood with default policy settings (NGINX, 3 workerd, proxy, Redis)", () => {
  it("1 000 concurrent gateway requests on one 50-token key: exactly 50 admitted, none by fail mode", async () => {
    const answers = await flood(1000, () =>
      fetch(`${stack.url}/flood/x`, { headers: { "x-client": "one-key" } }),
    );
    expect(tally(answers)).toEqual({ "200 allowed": 50, "429 limit_exceeded": 950 });
    expect(new Set(answers.map((a) => a.servedBy))).toEqual(new Set(["edge-1", "edge-2", "edge-3"]));
  });

  it("1 000 concurrent /v1/check calls on one 50-token key: exactly 50 admitted, none by fail mode", async () => {
    const answers = await flood(1000, () => check("one-check-key"));
    expect(tally(answers)).toEqual({ "200 allowed": 50, "429 limit_exceeded": 950 });
    expect(new Set(answers.map((a) => a.servedBy))).toEqual(new Set(["edge-1", "edge-2", "edge-3"]));
  });

  it("2 000 concurrent requests over 2 000 keys: all decided by Redis, each key charged exactly once", async () => {
    const answers = await flood(2000, (i) =>
      fetch(`${stack.url}/flood/x`, { headers: { "x-client": `many-${i}` } }),
    );
    expect(tally(answers)).toEqual({ "200 allowed": 2000 });
    const runner = ioredisRunner(raw);
    const limits = [{ name: "burst", capacity: 50, refillTokens: 1, refillIntervalMs: 3_600_000 }];
    const remaining = await Promise.all(
      Array.from({ length: 2000 }, async (_, i) => {
        const keys = await bucketKeys("erl", `key:many-${i}`, "p50", ["burst"]);
        return (await runTokenBucket(runner, keys, limits, 0)).limits[0]?.remaining;
      }),
    );
    expect(tally(remaining.map((r) => ({ status: r ?? -1, reason: "remaining", servedBy: null })))).toEqual({
      "49 remaining": 2000,
    });
  });
});
