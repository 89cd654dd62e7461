import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis } from "../../local/support";
import { type EdgeStack, getAs, startEdgeStack } from "../helpers/edge-stack";
import { getFresh, sleep } from "../helpers/load";
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
  const text = await (await getFresh(`${stack.url}/metrics`)).text();
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

const halfOpens = () => metric('erl_breaker_transitions_total{instance="edge-1",to="half_open"}');

/**
 * Open answers 200, closed answers 503, by the breaker without asking the store (the reason says so):
 * the typical answer within the 10 ms; client-side times on shared cores have outliers, so the
 * slowest is only held to "never hangs". Past a cool-down one decision is the breaker's probe: it asks
 * the store itself and, with the store still down, answers `probeReason` by the fail mode. Each probe is
 * counted by the breaker's half-open transitions. Returns the breaker's answers per policy.
 */
async function expectBreakerAnswers(
  ip: string,
  probeReason: string,
): Promise<{ open: number; closed: number }> {
  const before = await halfOpens();
  const times: number[] = [];
  const byBreaker = { open: 0, closed: 0 };
  let probes = 0;
  for (let i = 0; i < 3; i++) {
    for (const policy of ["open", "closed"] as const) {
      const answer = await timed(`/${policy}/x`, ip);
      const reason = answer.res.headers.get("X-RateLimit-Reason");
      if (policy === "open") expect(answer.res.status).toBe(200);
      else {
        expect([answer.res.status, answer.res.headers.get("Retry-After")]).toEqual([503, "1"]);
        expect(JSON.parse(answer.body)).toMatchObject({ status: 503, reason, policy: "closed" });
      }
      if (reason === "redis_unavailable") {
        byBreaker[policy]++;
        times.push(answer.ms);
      } else {
        expect(reason).toBe(probeReason);
        probes++;
      }
    }
  }
  expect(await halfOpens()).toBe(before + probes);
  times.sort((a, b) => a - b);
  expect(times[Math.floor(times.length / 2)]).toBeLessThan(BREAKER_BOUND_MS);
  expect(times.at(-1)).toBeLessThan(250);
  return byBreaker;
}

const breaker = (source: string, policy: string, outcome: string) =>
  metric(`erl_decisions_total{instance="edge-1",policy="${policy}",outcome="${outcome}",source="${source}"}`);

/** Sequential requests on a fresh key of a 5-token policy: exactly 5 admitted, by the store. */
async function expectExact(path: string, ip: string): Promise<void> {
  const answers: string[] = [];
  for (let i = 0; i < 7; i++) {
    const { res } = await timed(path, ip);
    answers.push(
      `${res.status} ${res.headers.get("X-RateLimit-Reason")} ${res.headers.get("X-RateLimit-Remaining")}`,
    );
  }
  const allowed = (remaining: number) => `200 allowed ${remaining}`;
  expect(answers).toEqual(
    [4, 3, 2, 1, 0].map(allowed).concat(["429 limit_exceeded 0", "429 limit_exceeded 0"]),
  );
}

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
      const first6 = await expectBreakerAnswers("203.0.113.1", "redis_timeout");
      // Past the cool-down the next decision is the probe: it asks the store itself, and waits no longer
      // than its own timeoutMs for it; the answers around it stay fast.
      await sleep(150);
      const probe = await timed("/open/x", "203.0.113.1");
      expect([probe.res.status, probe.res.headers.get("X-RateLimit-Reason")]).toEqual([200, "redis_timeout"]);
      expect(probe.ms).toBeGreaterThanOrEqual(50);
      expect(probe.ms).toBeLessThan(BOUND_MS);
      const next6 = await expectBreakerAnswers("203.0.113.1", "redis_timeout");
      expect(await breaker("breaker", "open", "redis_unavailable")).toBe(first6.open + next6.open);
      expect(await breaker("breaker", "closed", "redis_unavailable")).toBe(first6.closed + next6.closed);
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
    expect(await metric('erl_redis_timeouts_total{instance="edge-1",policy="slow"}')).toBe(1);
    expect(await metric('erl_breaker_transitions_total{instance="edge-1",to="closed"}')).toBe(1);
    expect(await metric('erl_breaker_open{instance="edge-1"}')).toBe(0);
  });

  it("proxy gone: the first decision fails at once (redis_error), the breaker answers the rest; the probe decides once it is back", async () => {
    const { port, token } = stack.proxy;
    await stack.proxy.stop();
    const closed = await timed("/closed/y", "203.0.113.2");
    expect([closed.res.status, closed.res.headers.get("X-RateLimit-Reason")]).toEqual([503, "redis_error"]);
    expect(closed.ms).toBeLessThan(BOUND_MS);
    expect(await breaker("fail_closed", "closed", "redis_error")).toBe(1);
    await expectBreakerAnswers("203.0.113.2", "redis_error");
    // Probes keep failing at once (connection refused) and the cool-down doubles up to its cap.
    await sleep(800);
    await expectBreakerAnswers("203.0.113.2", "redis_error");
    stack.proxy = await startTestProxy(stack.redis.url, [], { port, token });
    // Left idle past the longest cool-down: the first decision is the probe, and it is the store's.
    await sleep(600);
    await expectExact("/closed/y", "203.0.113.2");
  });

  it("Redis killed and restarted empty: after an idle moment, a fresh key gets exactly its capacity", async () => {
    const { port } = stack.redis;
    stack.redis.process.child.kill("SIGKILL");
    await stack.redis.stop();
    const failed = await timed("/closed/z", "203.0.113.3");
    expect([failed.res.status, failed.res.headers.get("X-RateLimit-Reason")]).toEqual([503, "redis_error"]);
    expect(await metric('erl_breaker_open{instance="edge-1"}')).toBe(1);
    stack.redis = await startRedis({ port });
    await sleep(600);
    await expectExact("/open/z", "203.0.113.3");
    expect(await metric('erl_breaker_open{instance="edge-1"}')).toBe(0);
  });
});
