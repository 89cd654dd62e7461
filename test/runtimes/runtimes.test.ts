/** @module The README example on every runtime Hono runs on (workerd, Edge Runtime, Deno, Bun, Node), from the packed package. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../local/support";
import { createLimiter, parsePolicies, rateLimit } from "../../workers";
import { createFreshApp, type FreshApp, readmeExample, repoVersion } from "../helpers/packed-app";
import { startTestProxy, type TestProxy } from "../helpers/proxy";
import { probeClient } from "./client-probe";
import { RUNTIMES, type RuntimeServer, startRuntime } from "./servers";

// One Redis, one proxy and one app (one `npm pack`) for every runtime; each runtime limits its own key.
let redis: RedisServer;
let proxy: TestProxy;
let app: FreshApp;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTestProxy(redis.url);
  app = createFreshApp([
    `hono@${repoVersion("hono")}`,
    `@upstash/redis@${repoVersion("@upstash/redis")}`,
    `@hono/node-server@${repoVersion("@hono/node-server")}`,
  ]);
  writeFileSync(join(app.dir, "app.ts"), readmeExample(proxy.url, proxy.token));
}, 120_000);
afterAll(async () => {
  await app?.remove();
  await proxy?.stop();
  await redis?.stop();
});

// The README's policy: "minute" 5 (refilled 5/m) and "day" 1000 (1000/d); a request costs 1.
const POLICY_HEADER = '"minute";q=5;w=60;erl-refill=continuous, "day";q=1000;w=86400;erl-refill=continuous';
const QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded";

async function hello(server: RuntimeServer, key?: string) {
  const res = await fetch(`${server.url}/api/hello`, { headers: key ? { "x-api-key": key } : {} });
  const header = (name: string) => res.headers.get(name);
  return {
    status: res.status,
    type: header("content-type")?.split(";")[0],
    body: (await res.json()) as Record<string, unknown>,
    policy: header("ratelimit-policy"),
    rateLimit: header("ratelimit"),
    limit: header("x-ratelimit-limit"),
    remaining: header("x-ratelimit-remaining"),
    reset: header("x-ratelimit-reset"),
    retryAfter: header("retry-after"),
  };
}

describe.each(RUNTIMES)("the README example on %s", (runtime) => {
  let server: RuntimeServer;
  beforeAll(async () => {
    server = await startRuntime(runtime, app.dir);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("counts down, then answers 429 with its problem body and the headers", async () => {
    const key = `${runtime}-${Date.now()}`;
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(await hello(server, key));
    const before = Math.floor(Date.now() / 1000);

    // Exact counts: the minute's refill (one token per 12 s) cannot add a whole token between these requests.
    expect(seen.map((r) => [r.status, r.remaining])).toEqual([
      [200, "4"],
      [200, "3"],
      [200, "2"],
      [200, "1"],
      [200, "0"],
      [429, "0"],
    ]);
    expect(seen.slice(0, 5).map((r) => r.body)).toEqual([4, 3, 2, 1, 0].map((n) => ({ hello: n })));
    for (const [i, r] of seen.entries()) {
      expect(r.policy).toBe(POLICY_HEADER);
      expect(r.limit).toBe("5");
      const left = Math.max(4 - i, 0);
      expect(r.rateLimit).toMatch(
        new RegExp(`^"minute";r=${left};t=\\d+, "day";r=${999 - Math.min(i, 4)};t=\\d+$`),
      );
      // X-RateLimit-Reset: when the minute's bucket is full again, in epoch seconds (at most 60 s ahead).
      expect(Number(r.reset) - before).toBeGreaterThanOrEqual(0);
      expect(Number(r.reset) - before).toBeLessThanOrEqual(61);
    }

    const denied = seen[5];
    expect(denied?.type).toBe("application/problem+json");
    expect(denied?.body).toMatchObject({
      type: QUOTA_EXCEEDED,
      status: 429,
      "violated-policies": ["minute"],
      policy: "api",
      reason: "limit_exceeded",
    });
    const retryAfterMs = denied?.body.retryAfterMs as number;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(12_000);
    expect(denied?.retryAfter).toBe(String(Math.ceil(retryAfterMs / 1000)));
  });

  it("runs edge-rate-limiter/client, which reads the headers and hands back the server's 429", async () => {
    const report = await probeClient(
      runtime,
      app.dir,
      `${server.url}/api/hello`,
      `${runtime}-client-${Date.now()}`,
    );
    expect(report).toEqual({
      statuses: [200, 200, 200, 200, 200, 429],
      limits: [
        ["minute", 0, 5],
        ["day", 995, 1000],
      ],
      retryAfter: true,
    });
  });

  it("answers 400 naming the problem when the request has no key", async () => {
    const res = await hello(server);
    expect([res.status, res.type, res.body.detail]).toEqual([
      400,
      "application/problem+json",
      "no rate-limit key for this request",
    ]);
  });
});

describe("rateLimit({ waitUntil }) where the request has no execution context (hono/vercel, Deno, Bun, Node)", () => {
  it("hands the limiter's store call to the waitUntil the app passed", async () => {
    const parsed = parsePolicies({
      policies: { p: { limits: [{ name: "minute", capacity: 5, refill: "5/m" }] } },
      routes: [],
    });
    if (!parsed.ok) throw new Error(parsed.error);
    const client = new Redis({ url: proxy.url, token: proxy.token, enableAutoPipelining: false });
    const limiter = createLimiter({ policies: parsed.value, redis: () => client });
    const kept: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => {
      kept.push(promise);
    };
    const hono = new Hono();
    hono.use("*", rateLimit({ limiter, policy: "p", key: () => `wait-until-${Date.now()}`, waitUntil }));
    hono.get("/", (c) => c.text("ok"));

    // app.request has no execution context, as on Node: the one store call goes to the app's waitUntil.
    const res = await hono.request("/");
    expect([res.status, res.headers.get("x-ratelimit-remaining"), kept.length]).toEqual([200, "4", 1]);
    await Promise.all(kept);
  });
});
