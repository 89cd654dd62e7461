/** @module onError "local" on a 3-instance stack: Redis hung, then killed, under steady load; admitted ≤ the documented bound; exact after recovery. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../local/stack";
import { pingRedis } from "../../local/support";
import { type Sample, sleep, startLoad } from "../helpers/load";

const INSTANCES = 3;
const SHARE = 0.1;
// 100 tokens, 50/s: each isolate's share is 10 tokens, refilled at 5/s.
const LIMIT = { name: "b", capacity: 100, refill: "50/s" };
const CAPACITY = 100;
const RATE_PER_S = 50;
const POLICIES = {
  policies: {
    // Leases off: the bound below is the local share alone (with leases on, add the tokens leased at the
    // outage's start: they were debited by the store, so they are no over-admission).
    local: { limits: [LIMIT], onError: "local", localShare: SHARE, timeoutMs: 100, lease: "off" },
    open: { limits: [LIMIT], onError: "open", timeoutMs: 100, lease: "off" },
    exact: { limits: [{ name: "b", capacity: 10, refill: "1/h" }], onError: "local", localShare: SHARE },
  },
  routes: [
    { path: "/local/*", policy: "local", key: "header:x-client" },
    { path: "/open/*", policy: "open", key: "header:x-client" },
    { path: "/exact/*", policy: "exact", key: "header:x-client" },
  ],
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    port: 0,
    proxyPort: 0,
    instances: INSTANCES,
    policies: JSON.stringify(POLICIES),
    log: () => {},
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const get = (path: string, client: string) =>
  fetch(`${stack.url}${path}`, { headers: { "x-client": client } });
const pid = (name: string) => stack.supervisor.process(name)?.pid ?? -1;

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(20);
  }
  throw new Error("condition not met in time");
}

/** Answers the store did not decide: the policy's onError did (reason redis_*). */
const outage = (samples: Sample[]) => samples.filter((s) => s.reason?.startsWith("redis_"));

describe('onError "local" (real stack, 3 instances)', () => {
  it("Redis hung, then killed, under steady load: admitted ≤ instances × share × (C + r·T); exact again after recovery", async () => {
    const key = `steady-${Date.now()}`;
    const local = startLoad(4, () => get("/local/x", key), 10);
    const open = startLoad(2, () => get("/open/x", key), 10);
    await sleep(1000);
    const hungAt = performance.now();
    process.kill(pid("redis"), "SIGSTOP");
    await sleep(1500);
    process.kill(pid("redis"), "SIGKILL");
    const port = Number(new URL(stack.redisUrl).port);
    await until(() => pingRedis(port));
    // Back once every instance's breaker has closed: 3 decisions in a row (round robin) by the store.
    await until(async () => {
      for (let i = 0; i < INSTANCES; i++)
        if ((await get("/open/probe", "probe")).headers.get("X-RateLimit-Reason") !== "allowed") return false;
      return true;
    });
    const [localSamples, openSamples] = await Promise.all([local.stop(), open.stop()]);

    const byShare = outage(localSamples);
    const lastMs = Math.max(...byShare.map((s) => s.startedAt + s.ms));
    const seconds = (lastMs - hungAt) / 1000;
    const bound = Math.floor(INSTANCES * SHARE * (CAPACITY + RATE_PER_S * seconds));
    const admitted = byShare.filter((s) => s.status === 200).length;
    const openOutage = outage(openSamples);
    const openAdmitted = openOutage.filter((s) => s.status === 200).length;
    console.log(
      `local share: ${admitted} of ${byShare.length} admitted during a ${seconds.toFixed(2)} s outage, bound ${bound} ` +
        `(${INSTANCES} × ${SHARE} × (${CAPACITY} + ${RATE_PER_S} × ${seconds.toFixed(2)})); open: ${openAdmitted} of ${openOutage.length}`,
    );
    expect(byShare.length).toBeGreaterThan(bound);
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(bound);
    // Every answer of the outage was the share's: 200, or 429 with Retry-After; never a 5xx or a hang.
    expect(byShare.filter((s) => s.status !== 200 && s.status !== 429)).toEqual([]);
    expect(openAdmitted).toBe(openOutage.length);

    // Exact again: a fresh key of capacity 10 admits exactly 10 of 30, every one decided by the store.
    const fresh = `after-${Date.now()}`;
    const answers: { status: number; reason: string | null }[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await get("/exact/x", fresh);
      await res.arrayBuffer();
      answers.push({ status: res.status, reason: res.headers.get("X-RateLimit-Reason") });
    }
    expect(answers.filter((a) => a.status === 200).length).toBe(10);
    expect(answers.filter((a) => a.reason?.startsWith("redis_"))).toEqual([]);
  }, 90_000);
});
