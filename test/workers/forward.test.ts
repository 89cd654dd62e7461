import { createServer, type Server } from "node:http";
import { parseList } from "structured-headers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge } from "../../local/stack";
import { freePort } from "../../local/support";
import { type EdgeStack, getAs, startEdgeStack } from "../helpers/edge-stack";
import { getFresh } from "../helpers/load";
import { TEST_POLICIES } from "../helpers/policies";

let stack: EdgeStack;
let upstream: Server;
const seen: { method: string; url: string; body: string; headers: Record<string, unknown> }[] = [];

beforeAll(async () => {
  const port = await freePort();
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", body, headers: req.headers });
      res.writeHead(201, { "Content-Type": "text/plain", "X-Upstream": "yes" });
      res.end(`upstream got ${req.method} ${req.url} (${body.length} bytes)`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(port, "127.0.0.1", resolve));
  stack = await startEdgeStack({
    policies: TEST_POLICIES,
    bindings: { UPSTREAM_URL: `http://127.0.0.1:${port}` },
  });
});
afterAll(async () => {
  await stack?.stop();
  upstream?.close();
});

const rateHeaders = (res: Response) =>
  Object.fromEntries(
    [
      "ratelimit-policy",
      "ratelimit",
      "x-ratelimit-limit",
      "x-ratelimit-remaining",
      "x-ratelimit-reason",
      "retry-after",
    ].map((h) => [h, res.headers.get(h)]),
  );

describe("limited requests forwarded upstream", () => {
  it("forwards allowed requests to the upstream with the rate-limit headers added", async () => {
    const body = "x".repeat(100_000);
    const res = await fetch(`${stack.url}/slow/items?q=1`, {
      method: "POST",
      body,
      headers: { "CF-Connecting-IP": "198.51.100.1", "X-Custom": "kept" },
    });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe("upstream got POST /slow/items?q=1 (100000 bytes)");
    expect(res.headers.get("X-Upstream")).toBe("yes");
    expect(res.headers.get("X-Served-By")).toBe("edge-1");
    expect(rateHeaders(res)).toEqual({
      "ratelimit-policy": '"burst";q=5;w=300;erl-refill=continuous',
      ratelimit: '"burst";r=4;t=60',
      "x-ratelimit-limit": "5",
      "x-ratelimit-remaining": "4",
      "x-ratelimit-reason": "allowed",
      "retry-after": null,
    });
    const last = seen.at(-1);
    expect(last).toMatchObject({ method: "POST", url: "/slow/items?q=1", body });
    expect(last?.headers["x-custom"]).toBe("kept");
  });

  it("counts down exactly, then answers 429 problem+json with Retry-After matching the bucket", async () => {
    const ip = "198.51.100.2";
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await getAs(`${stack.url}/slow/a`, ip);
      expect(res.status).toBe(201);
      remaining.push(res.headers.get("X-RateLimit-Remaining") ?? "");
      await res.text();
    }
    expect(remaining).toEqual(["4", "3", "2", "1", "0"]);
    const forwardedBefore = seen.length;
    const denied = await getAs(`${stack.url}/slow/a`, ip);
    expect(denied.status).toBe(429);
    expect(denied.headers.get("Content-Type")).toBe("application/problem+json");
    // One token per minute, the first of the five taken moments ago: just under 60 s, rounded up.
    expect(denied.headers.get("Retry-After")).toBe("60");
    const reset = Number(denied.headers.get("X-RateLimit-Reset"));
    expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 299);
    expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 300);
    expect(rateHeaders(denied)).toMatchObject({
      ratelimit: '"burst";r=0;t=300',
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reason": "limit_exceeded",
    });
    const body = await denied.json();
    // draft-ietf-httpapi-ratelimit-headers-11, section 5.1; the names are RateLimit-Policy's.
    expect(body).toEqual({
      type: "https://iana.org/assignments/http-problem-types#quota-exceeded",
      title: "Quota Exceeded",
      status: 429,
      detail: 'rate limit exceeded: policy "slow", limit "burst"',
      "violated-policies": ["burst"],
      policy: "slow",
      reason: "limit_exceeded",
      retryAfterMs: body.retryAfterMs,
    });
    expect(Object.keys(body)[0]).toBe("type");
    expect(body.retryAfterMs).toBeGreaterThan(59_000);
    expect(body.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(seen.length).toBe(forwardedBefore);
  });

  it("reports every limit of a multi-limit policy, and RateLimit parses as an RFC 9651 list", async () => {
    const key = { "x-api-key": "multi-1" };
    const first = await getAs(`${stack.url}/multi/x`, "198.51.100.3", key);
    expect(first.status).toBe(201);
    expect(first.headers.get("RateLimit-Policy")).toBe(
      '"second";q=4;w=2;erl-refill=continuous, "hour";q=3;w=3600;erl-refill=continuous',
    );
    expect(first.headers.get("RateLimit")).toBe('"second";r=3;t=1, "hour";r=2;t=1200');
    // The binding limit is the one with the fewest tokens left.
    expect(first.headers.get("X-RateLimit-Limit")).toBe("3");
    expect(first.headers.get("X-RateLimit-Remaining")).toBe("2");
    const parsed = parseList(first.headers.get("RateLimit") ?? "");
    expect(parsed.map(([item, params]) => [item, Object.fromEntries(params)])).toEqual([
      ["second", { r: 3, t: 1 }],
      ["hour", { r: 2, t: 1200 }],
    ]);
    await getAs(`${stack.url}/multi/x`, "198.51.100.3", key);
    await getAs(`${stack.url}/multi/x`, "198.51.100.3", key);
    const denied = await getAs(`${stack.url}/multi/x`, "198.51.100.3", key);
    expect(denied.status).toBe(429);
    expect((await denied.json())["violated-policies"]).toEqual(["hour"]);
    // "second" still had a token: a denial by "hour" consumed nothing from it.
    expect(denied.headers.get("RateLimit")).toMatch(/^"second";r=[12];t=\d+, "hour";r=0;t=3600$/);
    expect(denied.headers.get("Retry-After")).toBe("1200");
  });

  it("denies a cost above capacity with its own reason and no Retry-After", async () => {
    const res = await getAs(`${stack.url}/costly/x`, "198.51.100.4");
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBeNull();
    expect(res.headers.get("X-RateLimit-Reason")).toBe("cost_exceeds_capacity");
    expect(await res.json()).toEqual({
      type: "https://iana.org/assignments/http-problem-types#quota-exceeded",
      title: "Quota Exceeded",
      status: 429,
      detail: 'request cost 6 exceeds the capacity of limit "burst" of policy "slow"',
      "violated-policies": ["burst"],
      policy: "slow",
      reason: "cost_exceeds_capacity",
      retryAfterMs: null,
    });
  });

  it("answers 400 naming a missing key header, or falls back when the route lists one", async () => {
    const res = await getAs(`${stack.url}/multi/x`, "198.51.100.5");
    expect(res.status).toBe(400);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect((await res.json()).detail).toBe('missing required header "x-api-key"');
    const fallback = await getAs(`${stack.url}/keyed/x`, "198.51.100.5");
    expect(fallback.status).toBe(201);
    expect(await stack.raw.exists("test:{ip:198.51.100.5}:slow:burst")).toBe(1);
  });

  it("never lets a client-sent X-Forwarded-For change its identity", async () => {
    const ip = "198.51.100.6";
    for (const xff of ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"]) {
      expect(
        (await getAs(`${stack.url}/slow/x`, ip, { "X-Forwarded-For": xff, "X-Real-IP": xff })).status,
      ).toBe(201);
    }
    expect((await getAs(`${stack.url}/slow/x`, ip, { "X-Forwarded-For": "6.6.6.6" })).status).toBe(429);
    expect(await stack.raw.keys("test:{ip:1.1.1.1}*")).toEqual([]);
  });

  it("lets shadow-mode requests through while reporting the would-be denial", async () => {
    const statuses: number[] = [];
    const reasons: (string | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await getAs(`${stack.url}/shadow/x`, "198.51.100.7");
      statuses.push(res.status);
      reasons.push(res.headers.get("X-RateLimit-Reason"));
    }
    expect(statuses).toEqual([201, 201, 201, 201]);
    expect(reasons).toEqual(["allowed", "allowed", "shadow:limit_exceeded", "shadow:limit_exceeded"]);
    const metrics = await (await getFresh(`${stack.url}/metrics`)).text();
    expect(metrics).toContain(
      'erl_decisions_total{instance="edge-1",policy="shadow",outcome="shadow_limit_exceeded",source="redis"} 1',
    );
    expect(metrics).toContain(
      'erl_decisions_total{instance="edge-1",policy="shadow",outcome="shadow_limit_exceeded",source="denied_cache"} 1',
    );
  });

  it("answers a fail-closed policy with 503 temporary-reduced-capacity while the store is unreachable", async () => {
    // The same worker with nothing listening where its REST proxy should be.
    const edge = await startEdge({
      bindings: {
        POLICIES: JSON.stringify(TEST_POLICIES),
        UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${await freePort()}`,
        UPSTASH_REDIS_REST_TOKEN: "unused",
        INSTANCE_ID: "edge-no-store",
      },
    });
    try {
      const res = await getAs(`${edge.url}/closed/x`, "198.51.100.9");
      expect(res.status).toBe(503);
      expect(res.headers.get("Content-Type")).toBe("application/problem+json");
      expect(res.headers.get("Retry-After")).toBe("1");
      expect(res.headers.get("RateLimit-Policy")).toBe('"burst";q=5;w=300;erl-refill=continuous');
      // draft-ietf-httpapi-ratelimit-headers-11, section 5.2: every limit of the policy is out of service.
      expect(await res.json()).toEqual({
        type: "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity",
        title: "Temporary Reduced Capacity",
        status: 503,
        detail: 'rate limiter unavailable (redis_error); policy "closed" fails closed',
        "violated-policies": ["burst"],
        policy: "closed",
        reason: "redis_error",
      });
    } finally {
      await edge.stop();
    }
  });

  it("keeps /healthz unlimited and names the instance", async () => {
    for (let i = 0; i < 12; i++) {
      const res = await getAs(`${stack.url}/healthz`, "198.51.100.8");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, instance: "edge-1", redis: "ok" });
    }
  });
});
