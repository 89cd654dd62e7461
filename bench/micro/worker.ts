/** @module The microbenchmark's worker: the README's Hono app in each configuration, timed request by request inside workerd. */
import { Redis, type RedisConfigCloudflare } from "@upstash/redis/cloudflare";
import type { ExecutionContext } from "hono";
import { Hono } from "hono";
import {
  createLimiter,
  type Limiter,
  parsePolicies,
  type RateLimitVariables,
  rateLimit,
} from "../../workers";
import { createRedisClient } from "../../workers/redis";
import { CONFIGS, type MicroConfig, type RunReport, STORE_TOKEN, STORE_URL } from "./configs";
import stub from "./store-stub";

// The README's policy, with limits no benchmark reaches (the stub grants anything but `{denied…}` keys).
const POLICIES = parsePolicies({
  policies: {
    api: {
      limits: [
        { name: "second", capacity: 1_000_000_000, refill: "1000000000/s" },
        { name: "day", capacity: 100_000_000, refill: "100000000/d" },
      ],
    },
  },
  routes: [],
});

function clientFor(config: MicroConfig): Redis {
  if (config.client === "limiter") return createRedisClient(STORE_URL, STORE_TOKEN);
  const options: RedisConfigCloudflare = { url: STORE_URL, token: STORE_TOKEN, ...config.client };
  return new Redis(options);
}

/** The README's app: `rateLimit` on `/api/*` keyed by `x-api-key`, and the hello handler; bare = no limiter. */
function readmeApp(limiter: Limiter | null): Hono<{ Variables: RateLimitVariables }> {
  const app = new Hono<{ Variables: RateLimitVariables }>();
  if (limiter)
    app.use("/api/*", rateLimit({ limiter, policy: "api", key: (c) => c.req.header("x-api-key") }));
  app.get("/api/hello", (c) => c.json({ hello: c.get("rateLimit")?.result?.limits[0]?.remaining }));
  return app;
}

interface Built {
  app: Hono<{ Variables: RateLimitVariables }>;
  limiter: Limiter | null;
}

// One app and limiter per configuration for the isolate's life, as a deployed worker keeps its globals.
const built = new Map<string, Built>();

function build(config: MicroConfig): Built {
  let found = built.get(config.name);
  if (!found) {
    if (!POLICIES.ok) throw new Error(POLICIES.error);
    const client = config.limited ? clientFor(config) : null;
    const limiter = client ? createLimiter({ policies: POLICIES.value, redis: () => client }) : null;
    found = { app: readmeApp(limiter), limiter };
    built.set(config.name, found);
  }
  return found;
}

let unique = 0;

function keyOf(config: MicroConfig): string {
  if (config.key === "unique") return `u-${++unique}`;
  return config.key;
}

const SOURCES = ["lease", "redis", "denied_cache", "breaker", "fail_open", "fail_closed"] as const;
const OUTCOMES = ["allowed", "limit_exceeded", "redis_error", "redis_timeout", "redis_unavailable"];

function sourceCounts(limiter: Limiter | null): Record<string, number> {
  const counts: Record<string, number> = {};
  if (!limiter) return counts;
  for (const source of SOURCES) {
    let sum = 0;
    for (const outcome of OUTCOMES)
      sum += limiter.metrics.get("erl_decisions_total", { policy: "api", outcome, source });
    counts[source] = sum;
  }
  return counts;
}

// Background work (lease top-ups, their expiry) runs on; nothing here needs to outlive the run request.
const executionCtx = {
  waitUntil(promise: Promise<unknown>) {
    promise.catch(() => undefined);
  },
  passThroughOnException() {},
  props: {},
} as unknown as ExecutionContext;

// `inproc`: the client's fetch to the store is answered by the stub's handler inside this isolate, so a
// store-backed decision costs the client's and the limiter's work and nothing of workerd's subrequests.
let inProcess = false;
const realFetch = globalThis.fetch;
globalThis.fetch = function benchFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (inProcess && url.startsWith(STORE_URL)) return stub.fetch(new Request(url, init));
  return realFetch(input, init);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `n` requests of one configuration in batches, timing only the app's `fetch` (requests are built
 * before the clock starts). Between batches the isolate waits a millisecond, so a lease top-up sent in the
 * background lands, as it would between requests of a real isolate.
 */
async function run(config: MicroConfig, n: number, batch: number): Promise<RunReport> {
  const { app, limiter } = build(config);
  inProcess = config.store === "inproc";
  if (limiter && config.key === "hot") await warmLease(app, limiter, batch);
  const before = sourceCounts(limiter);
  let elapsedMs = 0;
  let unexpected = 0;
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    const requests: Request[] = [];
    for (let i = 0; i < size; i++)
      requests.push(new Request("http://micro.bench/api/hello", { headers: { "x-api-key": keyOf(config) } }));
    const started = Date.now();
    for (const request of requests) {
      const response = await app.fetch(request, {}, executionCtx);
      if (response.status !== config.status) unexpected++;
    }
    elapsedMs += Date.now() - started;
    await sleep(1);
  }
  const after = sourceCounts(limiter);
  const sources: Record<string, number> = {};
  for (const [source, count] of Object.entries(after)) {
    const delta = count - (before[source] ?? 0);
    if (delta > 0) sources[source] = delta;
  }
  return { config: config.name, n, elapsedMs, usPerRequest: (elapsedMs * 1000) / n, unexpected, sources };
}

/**
 * A hot key is hot when its demand says so: after a pause its lease has expired and its rate window is
 * stale. Untimed traffic until a whole batch is answered from the lease (at most two seconds).
 */
async function warmLease(app: Built["app"], limiter: Limiter, batch: number): Promise<void> {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    const leased = sourceCounts(limiter).lease ?? 0;
    for (let i = 0; i < batch; i++)
      await app.fetch(
        new Request("http://micro.bench/api/hello", { headers: { "x-api-key": "hot" } }),
        {},
        executionCtx,
      );
    await sleep(1);
    if ((sourceCounts(limiter).lease ?? 0) - leased === batch) return;
  }
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const config = CONFIGS.find((c) => c.name === url.searchParams.get("config"));
    if (!config)
      return Response.json({ error: `unknown config ${url.searchParams.get("config")}` }, { status: 400 });
    const n = Number(url.searchParams.get("n") ?? 1000);
    const batch = Number(url.searchParams.get("batch") ?? 200);
    return Response.json(await run(config, n, batch));
  },
};
