/** @module The Workers entry (`wrangler.toml` main): reads the environment once per isolate and serves the app. */
import type { Redis } from "@upstash/redis/cloudflare";
import type { ExecutionContext, Hono } from "hono";
import { createApp } from "./app";
import { type Env, readConfig } from "./config";
import { problem } from "./http/problem";
import { createLimiter } from "./limiter";
import { createRedisClient } from "./redis";

let app: Hono | undefined;
let configError: string | undefined;

function build(env: Env): void {
  const config = readConfig(env);
  if (!config.ok) {
    configError = config.error;
    console.error(`edge-rate-limiter: invalid configuration: ${config.error}`);
    return;
  }
  const { redisUrl, redisToken } = config.value;
  let redis: Redis | undefined;
  // Created on first use: Workers forbid I/O (and discourage I/O objects) at global scope.
  const client = () => {
    redis ??= createRedisClient(redisUrl, redisToken);
    return redis;
  };
  const limiter = createLimiter({ policies: config.value.policies, redis: client });
  app = createApp({
    limiter,
    checkToken: config.value.checkToken,
    upstreamUrl: config.value.upstreamUrl,
    instanceId: config.value.instanceId,
    disabled: config.value.disabled,
    redisHealthy: () =>
      Promise.race([
        client()
          .ping()
          .then((pong) => pong === "PONG")
          .catch(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500)),
      ]),
  });
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    if (!app && configError === undefined) build(env);
    if (!app) return problem(500, "Misconfigured", `edge-rate-limiter: ${configError}`);
    return app.fetch(request, env, ctx);
  },
};
