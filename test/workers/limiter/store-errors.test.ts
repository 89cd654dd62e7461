import { Redis } from "@upstash/redis";
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../../local/support";
import { TOKEN_BUCKET_LUA, tokenBucketSha1 } from "../../../lua";
import { classifyStoreError } from "../../../workers/limiter";
import { startTestProxy, type TestProxy } from "../../helpers/proxy";

let redis: RedisServer;
let proxy: TestProxy;
let raw: IoRedis;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTestProxy(redis.url);
  raw = new IoRedis(redis.url);
  raw.on("error", () => {});
});
afterAll(async () => {
  raw?.disconnect();
  await proxy?.stop();
  await redis?.stop();
});

const client = () =>
  new Redis({ url: proxy.url, token: proxy.token, retry: false, enableAutoPipelining: false });

/** The error a real store call threw, classified. */
async function classified(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    return `${classifyStoreError(error)}: ${(error as Error).message.split(", command was:")[0]}`;
  }
  throw new Error("the call succeeded");
}

describe("store errors, as the real client throws them", () => {
  it("a Redis error reply (WRONGTYPE on a key someone else wrote) is an answer, not an outage", async () => {
    await raw.hset("{x}:hash", "field", "1");
    await client().scriptLoad(TOKEN_BUCKET_LUA);
    const sha = await tokenBucketSha1();
    expect(await classified(() => client().evalsha(sha, ["{x}:hash"], ["1", "10", "1", "1000"]))).toMatch(
      /^reply: .*WRONGTYPE/,
    );
  });

  it("the proxy's word that Redis is gone is an outage", async () => {
    await raw.set("k", "v");
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    expect(await classified(() => client().get("k"))).toMatch(/^unavailable: ERR proxy: Redis /);
    redis = await startRedis({ port });
  });

  it("a refused connection (the proxy gone) is an outage", async () => {
    await proxy.stop();
    expect(await classified(() => client().get("k"))).toMatch(/^unavailable: /);
  });
});
