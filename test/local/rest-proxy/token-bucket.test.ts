import { Redis } from "@upstash/redis";
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../../local/support";
import { type LimitSpec, takeTokens } from "../../../lua";
import { startTestProxy, type TestProxy } from "../../helpers/proxy";

let redis: RedisServer;
let proxy: TestProxy;
let raw: IoRedis;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTestProxy(redis.url);
  raw = new IoRedis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await proxy?.stop();
  await redis?.stop();
});

const LIMITS: LimitSpec[] = [
  { name: "second", capacity: 3, refillTokens: 1, refillIntervalMs: 3_600_000 },
  { name: "day", capacity: 5, refillTokens: 5, refillIntervalMs: 86_400_000 },
];

describe("the token-bucket module through the proxy with @upstash/redis", () => {
  for (const autoPipelining of [true, false]) {
    it(`decides exactly (auto-pipelining ${autoPipelining ? "on" : "off"}) and survives SCRIPT FLUSH`, async () => {
      const client = new Redis({ url: proxy.url, token: proxy.token, enableAutoPipelining: autoPipelining });
      const identity = `upstash-${autoPipelining}`;
      const take = () => takeTokens(client, { prefix: "c", identity, policy: "p", limits: LIMITS, cost: 1 });
      await raw.script("FLUSH");
      const results = await Promise.all([take(), take(), take(), take()]);
      expect(results.map((r) => r.allowed).sort()).toEqual([false, true, true, true]);
      const denied = results.find((r) => !r.allowed);
      expect(denied).toMatchObject({ reason: "limit_exceeded", deniedBy: ["second"] });
      expect(denied?.limits.map((l) => l.remaining)).toEqual([0, 2]);
      expect(await raw.get(`c:{${identity}}:p:day`)).toMatch(/^\d+ \d+$/);
    });
  }
});
