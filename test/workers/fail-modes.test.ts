import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeStack, getAs, startEdgeStack } from "../helpers/edge-stack";
import { TEST_POLICIES } from "../helpers/policies";
import { startTestProxy } from "../helpers/proxy";

// The policies' timeout (50 ms) plus the allowance the issue gives for everything around it.
const BOUND_MS = 50 + 30;
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

describe("fail modes", () => {
  it("decides by onError within the timeout when the proxy hangs (SIGSTOP), then recovers", async () => {
    expect((await timed("/open/x", "203.0.113.1")).res.status).toBe(200);
    stack.proxy.process.child.kill("SIGSTOP");
    try {
      for (let i = 0; i < 3; i++) {
        const open = await timed("/open/x", "203.0.113.1");
        expect(open.res.status).toBe(200);
        expect(open.res.headers.get("X-RateLimit-Reason")).toBe("redis_timeout");
        expect(open.ms).toBeLessThan(BOUND_MS);
        const closed = await timed("/closed/x", "203.0.113.1");
        expect(closed.res.status).toBe(503);
        expect(closed.res.headers.get("X-RateLimit-Reason")).toBe("redis_timeout");
        expect(closed.res.headers.get("Retry-After")).toBe("1");
        expect(JSON.parse(closed.body)).toMatchObject({
          status: 503,
          reason: "redis_timeout",
          policy: "closed",
        });
        expect(closed.ms).toBeLessThan(BOUND_MS);
      }
    } finally {
      stack.proxy.process.child.kill("SIGCONT");
    }
    expect(await metric('erl_redis_timeouts_total{instance="edge-1",policy="open"}')).toBe(3);
    expect(await metric('erl_redis_timeouts_total{instance="edge-1",policy="closed"}')).toBe(3);
    const back = await timed("/closed/x", "203.0.113.1");
    expect(back.res.status).toBe(200);
    expect(back.res.headers.get("X-RateLimit-Reason")).toBe("allowed");
  });

  it("decides by onError when the proxy is gone, then recovers when it returns", async () => {
    const { port, token } = stack.proxy;
    await stack.proxy.stop();
    const open = await timed("/open/y", "203.0.113.2");
    expect(open.res.status).toBe(200);
    expect(open.res.headers.get("X-RateLimit-Reason")).toBe("redis_error");
    expect(open.ms).toBeLessThan(BOUND_MS);
    const closed = await timed("/closed/y", "203.0.113.2");
    expect(closed.res.status).toBe(503);
    expect(closed.res.headers.get("X-RateLimit-Reason")).toBe("redis_error");
    expect(closed.ms).toBeLessThan(BOUND_MS);
    expect(
      await metric(
        'erl_decisions_total{instance="edge-1",policy="closed",outcome="redis_error",source="fail_closed"}',
      ),
    ).toBe(1);
    stack.proxy = await startTestProxy(stack.redis.url, [], { port, token });
    const back = await timed("/closed/y", "203.0.113.2");
    expect(back.res.status).toBe(200);
    expect(back.res.headers.get("X-RateLimit-Remaining")).toBe("4");
  });
});
