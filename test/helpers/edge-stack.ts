/** @module Test helper: a real Redis, the real REST proxy and N real workerd instances of the bundled worker. */
import { Redis as IoRedis } from "ioredis";
import { type EdgeInstance, startEdge } from "../../local/stack";
import { type RedisServer, startRedis } from "../../local/support";
import type { Env } from "../../workers/config";
import { startTestProxy, type TestProxy } from "./proxy";

export interface EdgeStack {
  redis: RedisServer;
  /** A direct RESP connection for assertions (INFO commandstats, raw keys). */
  raw: IoRedis;
  proxy: TestProxy;
  edges: EdgeInstance[];
  /** The first instance's URL. */
  url: string;
  /** Evalsha + eval calls Redis has served so far: one per decision that reached Redis. */
  scriptCalls(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts Redis, the proxy and `instances` workers configured with `policies` and extra `bindings`.
 *
 * @example
 * const stack = await startEdgeStack({ policies: { policies: {...}, routes: [...] } });
 * await fetch(`${stack.url}/healthz`);
 * await stack.stop();
 */
export async function startEdgeStack(options: {
  policies: unknown;
  bindings?: Env;
  instances?: number;
}): Promise<EdgeStack> {
  const redis = await startRedis();
  const proxy = await startTestProxy(redis.url);
  const raw = new IoRedis(redis.url);
  // Suites kill and restart Redis: reconnecting quietly is all this connection should do.
  raw.on("error", () => {});
  const edges: EdgeInstance[] = [];
  for (let i = 1; i <= (options.instances ?? 1); i++) {
    edges.push(
      await startEdge({
        bindings: {
          POLICIES: JSON.stringify(options.policies),
          UPSTASH_REDIS_REST_URL: proxy.url,
          UPSTASH_REDIS_REST_TOKEN: proxy.token,
          INSTANCE_ID: `edge-${i}`,
          ...options.bindings,
        },
      }),
    );
  }
  const stack: EdgeStack = {
    redis,
    raw,
    proxy,
    edges,
    url: (edges[0] as EdgeInstance).url,
    async scriptCalls() {
      const info = await raw.info("commandstats");
      const calls = [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)];
      return calls.reduce((sum, m) => sum + Number(m[1]), 0);
    },
    async stop() {
      await Promise.all(edges.map((e) => e.stop()));
      raw.disconnect();
      // The current proxy and Redis: a suite may have replaced them (stopped and restarted on their ports).
      await stack.proxy.stop();
      await stack.redis.stop();
    },
  };
  return stack;
}

/** A GET with the client address NGINX/Cloudflare would set. */
export function getAs(url: string, ip: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { "CF-Connecting-IP": ip, ...headers } });
}
