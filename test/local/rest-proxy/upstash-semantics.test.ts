/** @module --upstash-semantics: a flagged script may touch only KEYS, unflagged ones are counted as taking the global lock. */
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../../local/support";
import { type LimitSpec, TOKEN_BUCKET_LUA, takeTokens, tokenBucketSha1 } from "../../../lua";
import { post, startTestProxy, type TestProxy } from "../../helpers/proxy";

const FLAGGED_UNDECLARED = "#!lua flags=allow-key-locking\nreturn redis.call('GET', 'not-in-keys')";
const FLAGGED_DECLARED = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])";
const FLAGGED_DEL_MANY = "#!lua flags=allow-key-locking\nreturn redis.call('DEL', KEYS[1], 'other')";
const FLAGGED_WIDE = "#!lua flags=allow-key-locking\nreturn redis.call('DBSIZE')";
const UNFLAGGED = "return redis.call('INCR', KEYS[1])";
const LIMITS: LimitSpec[] = [{ name: "b", capacity: 5, refillTokens: 1, refillIntervalMs: 60_000 }];

async function scriptCalls(proxy: TestProxy): Promise<Record<string, number>> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^proxy_script_calls_total\{lock="(\w+)"\} (\d+)$/gm))
    counts[match[1] as string] = Number(match[2]);
  return counts;
}

describe("proxy --upstash-semantics", () => {
  let redis: RedisServer;
  let proxy: TestProxy;
  let noTime: TestProxy;

  beforeAll(async () => {
    redis = await startRedis();
    [proxy, noTime] = await Promise.all([
      startTestProxy(redis.url),
      startTestProxy(redis.url, ["--refuse-script-time"]),
    ]);
  });

  afterAll(async () => {
    await Promise.all([proxy?.stop(), noTime?.stop()]);
    await redis?.stop();
  });

  it("refuses a flagged script that touches a key not in KEYS, and one that runs a database-wide command", async () => {
    const undeclared = await post(proxy, ["EVAL", FLAGGED_UNDECLARED, "0"]);
    expect(undeclared.status).toBe(400);
    expect((undeclared.body as { error: string }).error).toMatch(
      /^ERR upstash-semantics: the script touched key 'not-in-keys', which is not in KEYS/,
    );
    const del = await post(proxy, ["EVAL", FLAGGED_DEL_MANY, "1", "mine"]);
    expect((del.body as { error: string }).error).toMatch(/touched key 'other', which is not in KEYS/);
    const wide = await post(proxy, ["EVAL", FLAGGED_WIDE, "0"]);
    expect((wide.body as { error: string }).error).toMatch(
      /^ERR upstash-semantics: dbsize needs the whole database/,
    );
    expect(await post(proxy, ["EVAL", FLAGGED_DECLARED, "1", "counted"])).toMatchObject({
      status: 200,
      body: { result: 1 },
    });
  });

  it("counts unflagged scripts as taking the global lock (and scripts inside MULTI/EXEC), flagged ones as key locks", async () => {
    const before = await scriptCalls(proxy);
    expect(await post(proxy, ["EVAL", UNFLAGGED, "1", "g"])).toMatchObject({ body: { result: 1 } });
    expect(await post(proxy, ["EVAL", FLAGGED_DECLARED, "1", "k"])).toMatchObject({ body: { result: 1 } });
    await post(proxy, [["EVAL", FLAGGED_DECLARED, "1", "k"]], "/multi-exec");
    const after = await scriptCalls(proxy);
    expect(after.global).toBe((before.global ?? 0) + 2);
    expect(after.key).toBe((before.key ?? 0) + 1);
  });

  it("runs the bucket script (flagged, every key in KEYS) by EVALSHA of its own SHA1, NOSCRIPT first for a script it has not seen", async () => {
    const sha = await tokenBucketSha1();
    expect(TOKEN_BUCKET_LUA.split("\n")[0]).toBe("#!lua flags=allow-key-locking");
    const fresh = await startTestProxy(redis.url);
    try {
      const unseen = await post(fresh, ["EVALSHA", sha, "1", "x", "0", "5", "1", "60000"]);
      expect((unseen.body as { error: string }).error).toMatch(/^NOSCRIPT/);
      const client = new Redis({ url: fresh.url, token: fresh.token });
      const before = await scriptCalls(fresh);
      for (let i = 0; i < 6; i++)
        await takeTokens(client, { prefix: "u", identity: "one", policy: "p", limits: LIMITS, cost: 1 });
      const result = await takeTokens(client, {
        prefix: "u",
        identity: "one",
        policy: "p",
        limits: LIMITS,
        cost: 0,
      });
      expect(result.limits[0]?.remaining).toBe(0);
      expect(result.clock).toBe("store");
      const after = await scriptCalls(fresh);
      expect(after.key).toBe((before.key ?? 0) + 7);
      expect(after.global).toBe(before.global ?? 0);
    } finally {
      await fresh.stop();
    }
  });

  it("with --refuse-script-time the bucket falls back to the caller's clock, and says so", async () => {
    const client = new Redis({ url: noTime.url, token: noTime.token });
    const nowMs = Date.now();
    const take = () =>
      takeTokens(client, {
        prefix: "t",
        identity: "clockless",
        policy: "p",
        limits: LIMITS,
        cost: 1,
        clock: { use: "store", nowMs },
      });
    for (let i = 0; i < 5; i++) expect(await take()).toMatchObject({ allowed: true, clock: "caller", nowMs });
    expect(await take()).toMatchObject({ allowed: false, clock: "caller", nowMs, retryAfterMs: 60_000 });
    const refused = await post(noTime, ["EVAL", "return redis.call('TIME')", "0"]);
    expect((refused.body as { error: string }).error).toMatch(/^ERR upstash-semantics: TIME is not allowed/);
  });
});
