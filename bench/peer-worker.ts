/** @module Bench-only worker: `/ours/<policy>` through createLimiter, `/peer/<policy>` through @upstash/ratelimit tokenBucket, `/off/` neither. */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { ExecutionContext } from "hono";
import { createLimiter, type Limiter } from "../workers/limiter";
import { type CompiledPolicies, type CompiledPolicy, parsePolicies } from "../workers/policies";
import { createRedisClient } from "../workers/redis";

/** Bindings: the proxy, and the policies document both sides are configured from. */
interface PeerEnv {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  POLICIES: string;
}

/** Both sides wait this long for Redis, then answer 503 (counted as a failure, never as a decision). */
const PEER_TIMEOUT_MS = 1000;

interface Sides {
  policies: CompiledPolicies;
  ours: Limiter;
  /** One Ratelimit per limit of each policy (the peer has no multi-limit call). */
  peer: Map<string, Ratelimit[]>;
}

// Module scope, created on the first request: both denied caches live as long as the isolate.
let sides: Sides | undefined;

function peerLimiters(redis: () => Redis, policy: CompiledPolicy): Ratelimit[] {
  return policy.limits.map(
    (limit) =>
      new Ratelimit({
        redis: redis(),
        // The same capacity and rate; the peer refills refillTokens at once every interval (stepwise).
        limiter: Ratelimit.tokenBucket(limit.refillTokens, `${limit.refillIntervalMs} ms`, limit.capacity),
        prefix: `peer:${policy.name}:${limit.name}`,
        // Its in-isolate denied cache stays on (the default, like ours); analytics, protection and
        // dynamic limits stay off (each would add Redis calls).
        ephemeralCache: new Map(),
        timeout: PEER_TIMEOUT_MS,
        analytics: false,
        enableProtection: false,
        dynamicLimits: false,
      }),
  );
}

function setUp(env: PeerEnv): Sides {
  const parsed = parsePolicies(env.POLICIES);
  if (!parsed.ok) throw new Error(`peer-worker: POLICIES: ${parsed.error}`);
  let client: Redis | undefined;
  // The one client both sides share, with the options workers/worker.ts gives ours.
  const redis = () => {
    client ??= createRedisClient(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN);
    return client;
  };
  const peer = new Map<string, Ratelimit[]>();
  for (const policy of parsed.value.policies.values()) peer.set(policy.name, peerLimiters(redis, policy));
  return { policies: parsed.value, ours: createLimiter({ policies: parsed.value, redis }), peer };
}

function answer(status: number, remaining: number, source: string): Response {
  return new Response(status === 200 ? "ok\n" : `${source}\n`, {
    status,
    headers: { "X-RateLimit-Remaining": String(remaining), "X-Decision-Source": source },
  });
}

async function decideOurs(
  s: Sides,
  policy: CompiledPolicy,
  identity: string,
  ctx: ExecutionContext,
): Promise<Response> {
  const decision = await s.ours.check(policy, identity, 1, { waitUntil: (p) => ctx.waitUntil(p) });
  if (decision.source === "fail_open" || decision.source === "fail_closed") return answer(503, 0, "error");
  return answer(decision.allowed ? 200 : 429, decision.result?.limits[0]?.remaining ?? 0, decision.source);
}

async function decidePeer(s: Sides, policy: CompiledPolicy, identity: string): Promise<Response> {
  const limiters = s.peer.get(policy.name) ?? [];
  // All limits at once (the fastest the peer can do); unlike ours this is not all-or-nothing.
  const results = await Promise.all(limiters.map((limiter) => limiter.limit(identity)));
  if (results.some((r) => r.reason === "timeout")) return answer(503, 0, "timeout");
  const allowed = results.every((r) => r.success);
  const source = results.some((r) => r.reason === "cacheBlock") ? "denied_cache" : "redis";
  return answer(allowed ? 200 : 429, results[0]?.remaining ?? 0, source);
}

export default {
  async fetch(request: Request, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
    sides ??= setUp(env);
    const [, side, policyName] = new URL(request.url).pathname.split("/");
    // The baseline: the same worker answering without any limiter.
    if (side === "off") return answer(200, 0, "off");
    const policy = sides.policies.policies.get(policyName ?? "");
    const identity = request.headers.get("x-client") ?? "anonymous";
    if (!policy || (side !== "ours" && side !== "peer")) {
      return new Response("use /ours/<policy>, /peer/<policy> or /off/\n", { status: 404 });
    }
    try {
      return await (side === "ours"
        ? decideOurs(sides, policy, identity, ctx)
        : decidePeer(sides, policy, identity));
    } catch (error) {
      return new Response(`error: ${(error as Error).message}\n`, { status: 500 });
    }
  },
};
