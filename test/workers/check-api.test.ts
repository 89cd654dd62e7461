import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeStack, startEdgeStack } from "../helpers/edge-stack";
import { TEST_POLICIES } from "../helpers/policies";

const TOKEN = "check-token-for-tests";
let stack: EdgeStack;
let off: EdgeStack;

beforeAll(async () => {
  [stack, off] = await Promise.all([
    startEdgeStack({ policies: TEST_POLICIES, bindings: { CHECK_API_TOKEN: TOKEN } }),
    startEdgeStack({ policies: TEST_POLICIES }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), off?.stop()]);
});

function check(body: unknown, token: string | null = TOKEN, base = stack.url): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  return fetch(`${base}/v1/check`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function problemOf(res: Response) {
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  return { status: res.status, detail: (await res.json()).detail };
}

describe("check API", () => {
  it("is off, with a clear error, when no token is configured", async () => {
    expect(await problemOf(await check({ policy: "api", key: "k" }, TOKEN, off.url))).toEqual({
      status: 404,
      detail: "the check API is off: set the CHECK_API_TOKEN secret to turn it on",
    });
  });

  it("refuses a missing or wrong token with 401", async () => {
    const detail = "missing or wrong bearer token (Authorization: Bearer <CHECK_API_TOKEN>)";
    expect(await problemOf(await check({ policy: "api", key: "k" }, null))).toEqual({ status: 401, detail });
    expect(await problemOf(await check({ policy: "api", key: "k" }, `${TOKEN}x`))).toEqual({
      status: 401,
      detail,
    });
    expect(await problemOf(await check({ policy: "api", key: "k" }, "short"))).toEqual({
      status: 401,
      detail,
    });
  });

  it("answers 200 with the exact body and headers while allowed, then 429", async () => {
    const first = await check({ policy: "slow", key: "svc-1", cost: 2 });
    expect(first.status).toBe(200);
    expect(first.headers.get("RateLimit")).toBe('"burst";r=3;t=120');
    expect(await first.json()).toEqual({
      allowed: true,
      reason: "allowed",
      policy: "slow",
      remaining: 3,
      limit: 5,
      resetMs: 120_000,
      retryAfterMs: 0,
      limits: [{ name: "burst", limit: 5, remaining: 3, resetMs: 120_000, retryAfterMs: 0 }],
    });
    expect((await check({ policy: "slow", key: "svc-1", cost: 3 })).status).toBe(200);
    const denied = await check({ policy: "slow", key: "svc-1" });
    expect(denied.status).toBe(429);
    expect(denied.headers.get("Retry-After")).toBe("60");
    const body = await denied.json();
    expect(body).toMatchObject({ allowed: false, reason: "limit_exceeded", remaining: 0, limit: 5 });
    expect(body.retryAfterMs).toBeGreaterThan(59_000);
    expect(body.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it("validates the body and names the problem", async () => {
    const cases: [unknown, string][] = [
      ["{not json", "body: not valid JSON"],
      [[1, 2], "body: Invalid input: expected object, received array"],
      [{ policy: "nope", key: "k" }, 'policy: unknown policy "nope"'],
      [{ policy: "api", key: "k", cost: -1 }, "cost: must be >= 0"],
      [{ policy: "api", key: "k", cost: 1.5 }, "cost: must be a whole number"],
      [{ policy: "api", key: "" }, "key: must not be empty"],
      [{ policy: "api", key: "k".repeat(1025) }, "key: must be at most 1024 bytes"],
      [{ policy: "api" }, "key: Invalid input: expected string, received undefined"],
      [{ policy: "api", key: "k", extra: 1 }, 'body: Unrecognized key: "extra"'],
    ];
    for (const [body, detail] of cases) {
      const res = await problemOf(await check(body));
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(res.detail, JSON.stringify(body).slice(0, 60)).toContain(detail);
    }
    expect(await stack.raw.dbsize()).toBe(1);
  });

  it("inspects without consuming and resets exactly", async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    await check({ policy: "api", key: "svc-2", cost: 5 });
    const url = `${stack.url}/v1/buckets/api/svc-2`;
    for (let i = 0; i < 2; i++) {
      const inspect = await fetch(url, { headers: auth });
      expect(inspect.status).toBe(200);
      const body = await inspect.json();
      expect(body.limits.map((l: { name: string; remaining: number }) => [l.name, l.remaining])).toEqual([
        ["second", expect.any(Number)],
        ["day", 9995],
      ]);
    }
    const reset = await fetch(url, { method: "DELETE", headers: auth });
    expect(reset.status).toBe(200);
    expect((await reset.json()).limits).toEqual([
      { name: "second", limit: 20, remaining: 20, resetMs: 0, retryAfterMs: 0 },
      { name: "day", limit: 10000, remaining: 10000, resetMs: 0, retryAfterMs: 0 },
    ]);
    expect(await stack.raw.keys("test:{svc-2}:*")).toEqual([]);
    expect((await fetch(`${stack.url}/v1/buckets/nope/svc-2`, { headers: auth })).status).toBe(400);
    expect((await fetch(url, { headers: {} })).status).toBe(401);
  });
});
