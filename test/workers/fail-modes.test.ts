import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeStack, getAs, startEdgeStack } from "../helpers/edge-stack";
import { sleep } from "../helpers/load";
import { TEST_POLICIES } from "../helpers/policies";
import { startTestProxy } from "../helpers/proxy";

// The policies' timeout (50 ms) plus the allowance the issue gives for everything around it.
const BOUND_MS = 50 + 50;
// Once the breaker is open, a decision asks nothing: the bound.
const BREAKER_BOUND_MS = 10;
let stack: EdgeStack;

beforeAll(async () => {
  stack = await startEdgeStack({ policies: TEST_POLICIES });
});
afterAll(async () => {
  stack?.proxy.process.child.kill("SIGCONT");
  await stack?.stop();
});

async function timed(path: string, ip: string) {
  const started = performance.now();
  const res = await getAs(`${stack.url}${path}`, ip);
  const body = await res.text();
  return { res, body, ms: performance.now() - started };
}

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.split(" ").at(-1)) : 0;
}

/** Polls until a decision is made by Redis again; resolves with the milliseconds that took. */
async function recovery(path: string, ip: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 5000) {
    if ((await timed(path, ip)).res.headers.get("X-RateLimit-Reason") === "allowed")
      return performance.now() - started;
    await sleep(10);
  }
  throw new Error("no decision by Redis within 5 s");
}

/**
 * Open answers 200, closed answers 503, both by the breaker without asking the store (the reason says
 * so): the typical answer within the 10 ms; client-side times on shared cores have outliers, so
 * the slowest is only held to "never hangs".
 */
async function expectBreakerAnswers(ip: string): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const open = await timed("/open/x", ip);
    expect([open.res.status, open.res.headers.get("X-RateLimit-Reason")]).toEqual([200, "redis_unavailable"]);
    const closed = await timed("/closed/x", ip);
    expect([closed.res.status, closed.res.headers.get("Retry-After")]).toEqual([503, "1"]);
    expect(JSON.parse(closed.body)).toMatchObject({
      status: 503,
      reason: "redis_unavailable",
      policy: "closed",
    });
    times.push(open.ms, closed.ms);
  }
  times.sort((a, b) => a - b);
  expect(times[Math.floor(times.length / 2)]).toBeLessThan(BREAKER_BOUND_MS);
  expect(times.at(-1)).toBeLessThan(250);
}

const breaker = (source: string, policy: string, outcome: string) =>
  metric(`erl_decisions_total{instance="edge-1",policy="${policy}",outcome="${outcome}",source="${source}"}`);

describe("fail modes behind the breaker", () => {
  it("proxy hung (SIGSTOP): the first decision waits timeoutMs, then the breaker answers at once; SIGCONT → exact again", async () => {
    expect((await timed("/open/x", "203.0.113.1")).res.status).toBe(200);
    stack.proxy.process.child.kill("SIGSTOP");
    let back: number;
    try {
      const first = await timed("/closed/x", "203.0.113.1");
      expect([first.res.status, first.res.headers.get("X-RateLimit-Reason")]).toEqual([503, "redis_timeout"]);
      expect(first.ms).toBeGreaterThanOrEqual(50);
      expect(first.ms).toBeLessThan(BOUND_MS);
      expect(await metric('erl_breaker_open{instance="edge-1"}')).toBe(1);
      await expectBreakerAnswers("203.0.113.1");
      // Past the cool-down one request starts a probe in the background; it hangs too, and answers stay fast.
      await sleep(150);
      await expectBreakerAnswers("203.0.113.1");
      expect(await metric('erl_breaker_transitions_total{instance="edge-1",to="half_open"}')).toBe(1);
      expect(await breaker("breaker", "open", "redis_unavailable")).toBe(6);
      expect(await breaker("breaker", "closed", "redis_unavailable")).toBe(6);
      // A 50 ms silence opened the breaker; a policy that tolerates 1 s of silence still asks the store.
      const patient = await timed("/slow/x", "203.0.113.1");
      expect([patient.res.status, patient.res.headers.get("X-RateLimit-Reason")]).toEqual([
        200,
        "redis_timeout",
      ]);
      expect(patient.ms).toBeGreaterThanOrEqual(1000);
    } finally {
      stack.proxy.process.child.kill("SIGCONT");
      back = await recovery("/closed/x", "203.0.113.1");
    }
    expect(back).toBeLessThan(1000);
    expect(await metric('erl_redis_timeouts_total{instance="edge-1",policy="closed"}')).toBe(1);
    expect(await metric('erl_breaker_transitions_total{instance="edge-1",to="closed"}')).toBe(1);
    expect(await metric('erl_breaker_open{instance="edge-1"}')).toBe(0);
  });

  it("proxy gone: the first decision fails at once (redis_error), the breaker answers the rest; back within 1 s of the proxy", async () => {
    const { port, token } = stack.proxy;
    await stack.proxy.stop();
    const closed = await timed("/closed/y", "203.0.113.2");
    expect([closed.res.status, closed.res.headers.get("X-RateLimit-Reason")]).toEqual([503, "redis_error"]);
    expect(closed.ms).toBeLessThan(BOUND_MS);
    expect(await breaker("fail_closed", "closed", "redis_error")).toBe(1);
    await expectBreakerAnswers("203.0.113.2");
    // Probes keep failing at once (connection refused) and the cool-down doubles up to its cap.
    await sleep(800);
    await expectBreakerAnswers("203.0.113.2");
    stack.proxy = await startTestProxy(stack.redis.url, [], { port, token });
    expect(await recovery("/closed/y", "203.0.113.2")).toBeLessThan(1000);
    const next = await timed("/closed/y", "203.0.113.2");
    expect(next.res.status).toBe(200);
    // Breaker answers took nothing: 5 tokens, the recovery took one and this request another.
    expect(next.res.headers.get("X-RateLimit-Remaining")).toBe("3");
  });
});
