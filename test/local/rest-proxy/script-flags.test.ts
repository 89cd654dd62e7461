/** @module --strip-script-flags: shebang flags Redis 7.0 does not know, and EVALSHA by the original script's SHA1. */
import { createHash } from "node:crypto";
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stripShebangFlags } from "../../../local/rest-proxy";
import { type RedisServer, startRedis } from "../../../local/support";
import { startTestProxy, type TestProxy } from "../../helpers/proxy";

const SCRIPT = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])";
const SHA = createHash("sha1").update(SCRIPT).digest("hex");

describe("stripShebangFlags", () => {
  it.each([
    ["#!lua flags=allow-key-locking\nreturn 1", "#!lua\nreturn 1"],
    ["#!lua flags=allow-key-locking,no-writes\nreturn 1", "#!lua flags=no-writes\nreturn 1"],
    ["#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1", null],
    ["#!lua name=lib flags=x\nreturn 1", "#!lua\nreturn 1"],
    ["#!lua flags=allow-key-locking", "#!lua"],
    ["return 1", null],
    ["-- #!lua flags=allow-key-locking\nreturn 1", null],
  ])("%j", (script, expected) => {
    expect(stripShebangFlags(script)).toBe(expected ?? script);
  });
});

describe("proxy with and without --strip-script-flags", () => {
  let redis: RedisServer;
  let stripping: TestProxy;
  let plain: TestProxy;
  let direct: IORedis;

  beforeAll(async () => {
    redis = await startRedis();
    [stripping, plain] = await Promise.all([
      startTestProxy(redis.url, ["--strip-script-flags"], { upstashSemantics: false }),
      startTestProxy(redis.url, [], { upstashSemantics: false }),
    ]);
    direct = new IORedis(redis.url);
  });

  afterAll(async () => {
    direct?.disconnect();
    await Promise.all([stripping?.stop(), plain?.stop()]);
    await redis?.stop();
  });

  it("evals, evalshas by the original SHA and loads a flagged script with the option", async () => {
    await direct.script("FLUSH");
    const client = new Redis({ url: stripping.url, token: stripping.token });
    expect(await client.eval(SCRIPT, ["a"], [])).toBe(1);
    expect(await client.evalsha(SHA, ["a"], [])).toBe(2);
    expect(await client.scriptLoad(SCRIPT)).toBe(SHA);
    expect(await client.evalsha(SHA, ["a"], [])).toBe(3);
  });

  it("serves createScript (EVALSHA first, EVAL on NOSCRIPT) for a flagged script, also after SCRIPT FLUSH", async () => {
    const client = new Redis({ url: stripping.url, token: stripping.token });
    const script = client.createScript<number>(SCRIPT);
    await direct.script("FLUSH");
    expect(await script.exec(["b"], [])).toBe(1);
    expect(await script.evalsha(["b"], [])).toBe(2);
    await direct.script("FLUSH");
    expect(await script.exec(["b"], [])).toBe(3);
  });

  it("passes Redis' own error through verbatim without the option", async () => {
    const redisError = await direct.eval(SCRIPT, 1, "c").catch((error: Error) => error.message);
    expect(redisError).toBe("ERR Unexpected flag in script shebang: allow-key-locking");
    const res = await fetch(plain.url, {
      method: "POST",
      headers: { authorization: `Bearer ${plain.token}` },
      body: JSON.stringify(["EVAL", SCRIPT, 1, "c"]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: redisError });
    const client = new Redis({ url: plain.url, token: plain.token });
    await expect(client.eval(SCRIPT, ["c"], [])).rejects.toThrow(redisError as string);
  });
});
