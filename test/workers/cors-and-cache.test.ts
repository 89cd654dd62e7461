import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RATE_LIMIT_HEADERS } from "../../workers/headers";
import { type EdgeStack, getAs, startEdgeStack } from "../helpers/edge-stack";
import { getFresh } from "../helpers/load";
import { TEST_ORIGIN, TEST_POLICIES } from "../helpers/policies";

let stack: EdgeStack;

beforeAll(async () => {
  stack = await startEdgeStack({ policies: TEST_POLICIES });
});
afterAll(async () => {
  await stack?.stop();
});

describe("CORS", () => {
  it("answers a preflight without touching Redis", async () => {
    const before = await stack.scriptCalls();
    const res = await fetch(`${stack.url}/api/x`, {
      method: "OPTIONS",
      headers: {
        Origin: TEST_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key",
        "CF-Connecting-IP": "192.0.2.1",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(TEST_ORIGIN);
    expect(res.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect(res.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("x-api-key");
    expect(await stack.scriptCalls()).toBe(before);
  });

  it("exposes every rate-limit header on a cross-origin 200 and 429", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await getAs(`${stack.url}/slow/cors`, "192.0.2.2", { Origin: TEST_ORIGIN });
      statuses.push(res.status);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe(TEST_ORIGIN);
      expect(res.headers.get("Access-Control-Expose-Headers")?.split(",")).toEqual([...RATE_LIMIT_HEADERS]);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("does not allow an origin that is not configured", async () => {
    const res = await getAs(`${stack.url}/healthz`, "192.0.2.3", { Origin: "http://evil.example" });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("denied cache", () => {
  it("answers repeat requests for a denied key without a Redis call until the retry time", async () => {
    const ip = "192.0.2.9";
    for (let i = 0; i < 5; i++) expect((await getAs(`${stack.url}/slow/c`, ip)).status).toBe(200);
    const before = await stack.scriptCalls();
    const first = await getAs(`${stack.url}/slow/c`, ip);
    expect(first.status).toBe(429);
    expect(await stack.scriptCalls()).toBe(before + 1);
    for (let i = 0; i < 20; i++) {
      const res = await getAs(`${stack.url}/slow/c`, ip);
      expect(res.status).toBe(429);
      expect(res.headers.get("X-RateLimit-Remaining")).toBe("0");
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(59);
    }
    expect(await stack.scriptCalls()).toBe(before + 1);
    const metrics = await (await getFresh(`${stack.url}/metrics`)).text();
    expect(metrics).toContain('erl_denied_cache_hits_total{instance="edge-1",policy="slow"} 20');
    // Another identity still reaches Redis.
    expect((await getAs(`${stack.url}/slow/c`, "192.0.2.10")).status).toBe(200);
    expect(await stack.scriptCalls()).toBe(before + 2);
  });
});
