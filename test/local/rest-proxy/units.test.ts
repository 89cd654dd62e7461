/** @module Unit tests of the proxy's pure parts: command parsing and policy, reply encoding, options. */
import { describe, expect, it } from "vitest";
import {
  checkCommand,
  encodeReply,
  isLoopbackHost,
  parseCommand,
  parseCommandList,
  redactRedisUrl,
  resolveProxyOptions,
} from "../../../local/rest-proxy";

describe("parseCommand", () => {
  it("keeps the spelling, upper-cases the name and stringifies numbers and booleans", () => {
    expect(parseCommand(["zAdd", "k", 1.5, "m", true, false, -0])).toEqual({
      ok: true,
      value: { name: "ZADD", spelled: "zAdd", args: ["k", "1.5", "m", "true", "false", "0"] },
    });
  });

  it.each([
    [{}, "ERR proxy: a command must be a JSON array"],
    [[], "ERR proxy: empty command"],
    [[1, "a"], "ERR proxy: the command name must be a non-empty string"],
    [["set", "k", null], "ERR proxy: argument 2 must be a string, number or boolean"],
    [["set", "k", ["nested"]], "ERR proxy: argument 2 must be a string, number or boolean"],
  ])("refuses %j", (raw, error) => {
    expect(parseCommand(raw)).toEqual({ ok: false, error });
  });

  it("parses command lists and names the bad entry", () => {
    expect(parseCommandList([["get", "a"]])).toEqual({
      ok: true,
      value: [{ name: "GET", spelled: "get", args: ["a"] }],
    });
    expect(parseCommandList([["get", "a"], "get"])).toEqual({
      ok: false,
      error: "ERR proxy: a command must be a JSON array (command 2)",
    });
  });
});

describe("checkCommand", () => {
  const cmd = (...parts: string[]) => {
    const parsed = parseCommand(parts);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.value;
  };

  it("routes ordinary commands to the shared connection", () => {
    for (const parts of [
      ["get", "k"],
      ["evalsha", "abc", "0"],
      ["script", "load", "return 1"],
      ["xread", "streams", "s", "0"],
    ]) {
      expect(checkCommand(cmd(...parts), false)).toEqual({ ok: true, value: "shared" });
    }
  });

  it("allows dangerous commands with --allow-all-commands, blocking ones on a dedicated connection", () => {
    expect(checkCommand(cmd("flushall"), true)).toEqual({ ok: true, value: "shared" });
    expect(checkCommand(cmd("blpop", "q", "1"), true)).toEqual({ ok: true, value: "dedicated" });
    expect(
      checkCommand(cmd("xreadgroup", "group", "g", "c", "block", "10", "streams", "s", ">"), true),
    ).toEqual({
      ok: true,
      value: "dedicated",
    });
  });

  it("never allows connection-state commands", () => {
    expect(checkCommand(cmd("client", "reply", "off"), true)).toEqual({
      ok: false,
      error: "ERR proxy: CLIENT REPLY is not supported (it would change the shared Redis connection)",
    });
    expect(checkCommand(cmd("subscribe", "ch"), true).ok).toBe(false);
  });
});

describe("encodeReply", () => {
  it("encodes Buffers, keeps numbers and nil, recurses into arrays", () => {
    const reply = [Buffer.from([0xff, 0x00]), 3, null, [Buffer.from("é")]];
    expect(encodeReply(reply, true)).toEqual(["/wA=", 3, null, ["w6k="]]);
    expect(encodeReply([Buffer.from("é"), [Buffer.from("x")]], false)).toEqual(["é", ["x"]]);
  });

  it("keeps nested error texts unencoded", () => {
    const error = Object.assign(new Error("ERR boom"), { name: "ReplyError" });
    expect(encodeReply([Buffer.from("a"), error], true)).toEqual(["YQ==", "ERR boom"]);
  });
});

describe("options", () => {
  const redisUrl = "redis://127.0.0.1:6379";

  it("needs a token unless insecure on loopback", () => {
    expect(resolveProxyOptions({ redisUrl }).ok).toBe(false);
    expect(resolveProxyOptions({ redisUrl, insecure: true }).ok).toBe(true);
    expect(resolveProxyOptions({ redisUrl, insecure: true, host: "::1" }).ok).toBe(true);
    expect(resolveProxyOptions({ redisUrl, insecure: true, host: "0.0.0.0" }).ok).toBe(false);
    expect(resolveProxyOptions({ redisUrl, token: "t", host: "0.0.0.0" }).ok).toBe(true);
  });

  it("checks numbers and the Redis URL", () => {
    expect(resolveProxyOptions({ redisUrl, token: "t", timeoutMs: 0 })).toEqual({
      ok: false,
      error: "timeout must be a positive integer (got 0)",
    });
    expect(resolveProxyOptions({ redisUrl: "http://x", token: "t" }).ok).toBe(false);
  });

  it("recognises loopback hosts and redacts Redis passwords", () => {
    expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].map(isLoopbackHost)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["0.0.0.0", "10.0.0.1", "example.com", "::"].map(isLoopbackHost)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(redactRedisUrl("redis://user:secret@10.0.0.5:6379/0")).toBe("redis://user:***@10.0.0.5:6379/0");
    expect(redactRedisUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
  });
});
