/** @module The read-only token: only commands Redis flags readonly, over raw HTTP and through @upstash/redis. */
import { Redis } from "@upstash/redis";
import { beforeAll, describe, expect, it } from "vitest";
import { post, type TestProxy } from "../../helpers/proxy";
import { proxySuite } from "./suite";

const READ_ONLY = "read-only-token-for-tests";
const suite = proxySuite(["--read-only-token", READ_ONLY]);
let reader: TestProxy;

beforeAll(async () => {
  // The same proxy, seen with the read-only token.
  reader = { ...suite.proxy, token: READ_ONLY };
  await post(suite.proxy, ["set", "ro:k", "v"]);
  await post(suite.proxy, ["rpush", "ro:l", "a", "b"]);
});

function refused(name: string) {
  return {
    error: `ERR proxy: ${name} is not allowed with the read-only token (it runs only commands Redis flags readonly)`,
  };
}

describe("the read-only token", () => {
  it("runs read-only commands", async () => {
    expect(await post(reader, ["get", "ro:k"])).toMatchObject({ status: 200, body: { result: "v" } });
    expect((await post(reader, ["lrange", "ro:l", 0, -1])).body).toEqual({ result: ["a", "b"] });
    expect((await post(reader, ["eval_ro", "return redis.call('GET', KEYS[1])", 1, "ro:k"])).body).toEqual({
      result: "v",
    });
    const sha = (await post(suite.proxy, ["script", "load", "return redis.call('LLEN', KEYS[1])"])).body as {
      result: string;
    };
    expect((await post(reader, ["evalsha_ro", sha.result, 1, "ro:l"])).body).toEqual({ result: 2 });
  });

  it("refuses every other command with 403 JSON naming it, and nothing is written", async () => {
    for (const [parts, name] of [
      [["set", "ro:k", "changed"], "SET"],
      [["del", "ro:k"], "DEL"],
      [["eval", "return 1", 0], "EVAL"],
      [["evalsha", "abc", 0], "EVALSHA"],
      [["sort", "ro:l", "alpha", "store", "ro:x"], "SORT"],
      [["publish", "c", "m"], "PUBLISH"],
      [["script", "load", "return 1"], "SCRIPT"],
      [["ping"], "PING"],
    ] as const) {
      expect(await post(reader, parts)).toMatchObject({ status: 403, body: refused(name) });
    }
    expect((await post(suite.proxy, ["get", "ro:k"])).body).toEqual({ result: "v" });
  });

  it("cannot write from a read-only script: Redis itself refuses", async () => {
    const res = await post(reader, ["eval_ro", "return redis.call('SET', KEYS[1], 'x')", 1, "ro:k"]);
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(
      /^ERR Write commands are not allowed from read-only scripts/,
    );
    expect((await post(suite.proxy, ["get", "ro:k"])).body).toEqual({ result: "v" });
  });

  it("in a pipeline refuses an entry; in a transaction refuses the whole of it", async () => {
    expect(
      (
        await post(
          reader,
          [
            ["get", "ro:k"],
            ["incr", "ro:n"],
            ["llen", "ro:l"],
          ],
          "/pipeline",
        )
      ).body,
    ).toEqual([{ result: "v" }, refused("INCR"), { result: 2 }]);
    expect(
      await post(
        reader,
        [
          ["get", "ro:k"],
          ["incr", "ro:n"],
        ],
        "/multi-exec",
      ),
    ).toMatchObject({
      status: 403,
      body: refused("INCR"),
    });
    expect((await post(suite.proxy, ["exists", "ro:n"])).body).toEqual({ result: 0 });
  });

  it("applies to path-style commands and ?_token=", async () => {
    const get = await fetch(`${suite.proxy.url}/get/ro:k?_token=${READ_ONLY}`);
    expect(await get.json()).toEqual({ result: "v" });
    const set = await fetch(`${suite.proxy.url}/set/ro:k/x?_token=${READ_ONLY}`);
    expect(set.status).toBe(403);
    expect(await set.json()).toEqual(refused("SET"));
  });

  it("works with @upstash/redis: reads answer, writes throw the refusal", async () => {
    const client = new Redis({ url: suite.proxy.url, token: READ_ONLY });
    expect(await client.get("ro:k")).toBe("v");
    await expect(client.set("ro:k", "y")).rejects.toThrow(refused("SET").error);
    expect(await client.get("ro:k")).toBe("v");
  });

  it("leaves the full token's access unchanged", async () => {
    expect((await post(suite.proxy, ["set", "ro:w", "1"])).body).toEqual({ result: "OK" });
    expect((await post(suite.proxy, ["del", "ro:w"])).body).toEqual({ result: 1 });
  });
});
