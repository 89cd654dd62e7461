import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../local/stack";
import { pingRedis, waitUntil } from "../../local/support";
import { workerdPids } from "../helpers/launcher";
import { getFresh, type Sample, sleep, slowest, startLoad } from "../helpers/load";

const TIMEOUT_MS = 50;
const CHECK_TOKEN = "faults-check-token";
const big = { name: "b", capacity: 1_000_000, refill: "100000/s" };
const POLICIES = {
  policies: {
    open: { limits: [big], onError: "open", timeoutMs: TIMEOUT_MS },
    closed: { limits: [big], onError: "closed", timeoutMs: TIMEOUT_MS },
    small: { limits: [{ name: "b", capacity: 3, refill: "1/h" }], timeoutMs: 1000 },
    once: { limits: [{ name: "b", capacity: 10, refill: "1/h" }], timeoutMs: 1000 },
  },
  routes: [
    { path: "/open/*", policy: "open", key: "header:x-client" },
    { path: "/closed/*", policy: "closed", key: "header:x-client" },
    { path: "/small/*", policy: "small", key: "header:x-client" },
  ],
};

let stack: Stack;
const log: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    port: 0,
    proxyPort: 0,
    instances: 3,
    policies: JSON.stringify(POLICIES),
    checkToken: CHECK_TOKEN,
    log: (line) => log.push(line),
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const pid = (name: string) => stack.supervisor.process(name)?.pid ?? -1;
const get = (path: string, client: string) =>
  fetch(`${stack.url}${path}`, { headers: { "x-client": client } });
// Four clients with a short pause between requests: load the stack without saturating the two cores, so
// a slow answer means the limiter waited, not that the load generator queued.
const mixedLoad = () => startLoad(4, (i) => get(i % 2 ? "/open/x" : "/closed/x", `client-${i % 50}`), 2);

/** When `part` answers again after being killed: polls every 10 ms, resolves with performance.now(). */
async function backAt(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return performance.now();
    await sleep(10);
  }
  throw new Error("did not come back");
}

/** Milliseconds from `since` until the end of the last request Redis did not decide (0 when none). */
function recovery(samples: Sample[], since: number): number {
  const after = samples.filter((s) => s.startedAt + s.ms >= since);
  expect(after.filter((s) => s.reason === "allowed").length).toBeGreaterThan(50);
  const failures = after.filter((s) => s.reason !== "allowed").map((s) => s.startedAt + s.ms - since);
  return Math.max(0, ...failures);
}

function expectFailModeAnswers(samples: Sample[]): void {
  // Every request was answered (no 502/connection error) by its policy's fail mode or by Redis...
  const wrong = samples.filter(
    (s) => !(s.status === 200 || (s.status === 503 && s.reason?.startsWith("redis_"))),
  );
  expect(wrong).toEqual([]);
  // ...and within the policy timeout + 50 ms, never hanging.
  expect(slowest(samples)?.ms ?? 0).toBeLessThan(TIMEOUT_MS + 50);
}

describe("faults under load (real stack)", () => {
  it("Redis killed: answers by fail mode at once, recovers within 1 s of Redis returning (empty script cache)", async () => {
    const load = mixedLoad();
    await sleep(500);
    const port = Number(new URL(stack.redisUrl).port);
    process.kill(pid("redis"), "SIGKILL");
    const returned = await backAt(() => pingRedis(port));
    await sleep(1500);
    const samples = await load.stop();
    expectFailModeAnswers(samples);
    expect(samples.some((s) => s.reason === "redis_error")).toBe(true);
    const ms = recovery(samples, returned);
    console.log(
      `redis kill: ${samples.length} requests, slowest ${slowest(samples)?.ms.toFixed(1)} ms, recovered ${ms.toFixed(0)} ms after Redis returned`,
    );
    expect(ms).toBeLessThan(1000);
    expect(stack.status().find((p) => p.name === "redis")?.restarts).toBe(1);
  });

  it("Redis restarted with data loss: buckets restart full", async () => {
    for (let i = 0; i < 2; i++)
      expect((await get("/small/x", "lossy")).headers.get("X-RateLimit-Remaining")).toBe(String(2 - i));
    const port = Number(new URL(stack.redisUrl).port);
    process.kill(pid("redis"), "SIGKILL");
    await sleep(100);
    await backAt(() => pingRedis(port));
    // Each instance's breaker closes on its own probe: back when 3 requests in a row (round robin: one
    // per instance) are decided by Redis.
    await backAt(async () => {
      for (let i = 0; i < 3; i++)
        if ((await get("/open/probe", "probe")).headers.get("X-RateLimit-Reason") !== "allowed") return false;
      return true;
    });
    const res = await get("/small/x", "lossy");
    expect(res.status).toBe(200);
    expect(res.headers.get("X-RateLimit-Remaining")).toBe("2");
  });

  it("REST proxy killed: answers by fail mode at once, recovers within 1 s of the proxy returning", async () => {
    const load = mixedLoad();
    await sleep(500);
    process.kill(pid("rest-proxy"), "SIGKILL");
    const returned = await backAt(() => fetch(`${stack.proxyUrl}/healthz`).then((r) => r.status === 200));
    await sleep(1500);
    const samples = await load.stop();
    expectFailModeAnswers(samples);
    const ms = recovery(samples, returned);
    console.log(
      `proxy kill: ${samples.length} requests, slowest ${slowest(samples)?.ms.toFixed(1)} ms, recovered ${ms.toFixed(0)} ms after the proxy returned`,
    );
    expect(ms).toBeLessThan(1000);
  });

  it("edge instance killed: 0 failed idempotent requests, no check charged twice", async () => {
    const gets = startLoad(6, (i) => get("/open/x", `edge-kill-${i % 20}`));
    const checkKeys: string[] = [];
    const checks = startLoad(2, () => {
      const key = `check-${checkKeys.length}`;
      checkKeys.push(key);
      return fetch(`${stack.url}/v1/check`, {
        method: "POST",
        headers: { Authorization: `Bearer ${CHECK_TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ policy: "once", key }),
      });
    });
    await sleep(500);
    const host = pid("edge-2");
    const workerd = workerdPids(host);
    expect(workerd.length).toBeGreaterThan(0);
    for (const p of workerd) process.kill(p, "SIGKILL");
    await sleep(2000);
    const [getSamples, checkSamples] = await Promise.all([gets.stop(), checks.stop()]);
    expect(getSamples.filter((s) => s.status !== 200)).toEqual([]);
    const answered = checkSamples.filter((s) => s.status === 200).length;
    const failed = checkSamples.length - answered;
    // A check is charged at most once: every key's bucket lost at most one token.
    const remaining = await Promise.all(
      checkKeys.map(async (key) => {
        const res = await fetch(`${stack.url}/v1/buckets/once/${key}`, {
          headers: { Authorization: `Bearer ${CHECK_TOKEN}` },
        });
        return (await res.json()).remaining as number;
      }),
    );
    expect(remaining.filter((r) => r < 9)).toEqual([]);
    expect(remaining.filter((r) => r === 9).length).toBeGreaterThanOrEqual(answered);
    console.log(
      `edge kill: ${getSamples.length} GETs all 200; ${checkSamples.length} checks, ${failed} not answered, none charged twice`,
    );
  });

  it("NGINX reload under load: 0 failed requests", async () => {
    const load = startLoad(4, (i) => getFresh(`${stack.url}/open/x`, { "x-client": `reload-${i % 20}` }), 2);
    await sleep(300);
    stack.supervisor.process("nginx")?.child.kill("SIGHUP");
    await sleep(1000);
    stack.supervisor.process("nginx")?.child.kill("SIGHUP");
    await sleep(700);
    const samples = await load.stop();
    expect(samples.length).toBeGreaterThan(100);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
  });

  it("no part crashed except the ones killed", async () => {
    await waitUntil(
      "edge-2 is back",
      async () => stack.status().find((p) => p.name === "edge-2")?.restarts === 1,
      {
        timeoutMs: 20_000,
      },
    );
    const restarts = Object.fromEntries(stack.status().map((p) => [p.name, p.restarts]));
    expect(restarts).toEqual({ redis: 2, "rest-proxy": 1, "edge-1": 0, "edge-2": 1, "edge-3": 0, nginx: 0 });
  });
});
