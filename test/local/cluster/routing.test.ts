/** @module Cluster routing units: seeds, key extraction with hostile numkeys, slot routes, CLI flags. */
import { describe, expect, it } from "vitest";
import { commandKeys, keySlot, parseSeeds, resolveProxyOptions, routeOf } from "../../../local/rest-proxy";
import { parseCli } from "../../../local/rest-proxy/cli-args";
import { retryAdvice } from "../../../local/rest-proxy/cluster-routing";

const cmd = (name: string, ...args: string[]) => ({ name: name.toUpperCase(), spelled: name, args });
const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });

describe("cluster routing", () => {
  it("parses seeds as URLs or host:port, keeping the first URL's credentials", () => {
    expect(parseSeeds("redis://:s3cret@127.0.0.1:7000, 127.0.0.1:7001")).toEqual({
      ok: true,
      value: {
        nodes: [
          { host: "127.0.0.1", port: 7000 },
          { host: "127.0.0.1", port: 7001 },
        ],
        password: "s3cret",
        tls: false,
        username: undefined,
      },
    });
    expect(parseSeeds("").ok).toBe(false);
    expect(parseSeeds("http://x:1")).toMatchObject({ ok: false, error: expect.stringContaining("redis://") });
    expect(parseSeeds("127.0.0.1:99999").ok).toBe(false);
  });

  it("finds keys by the command table, bounded against hostile numkeys", () => {
    expect(commandKeys(cmd("evalsha", "abc", "2", "k1", "k2", "arg"))).toEqual(["k1", "k2"]);
    expect(commandKeys(cmd("set", "k", "99999999999"))).toEqual(["k"]);
    const started = Date.now();
    expect(commandKeys(cmd("evalsha", "abc", "99999999999999", "k"))).toEqual(["k"]);
    expect(Date.now() - started).toBeLessThan(50);
    expect(commandKeys(cmd("nosuchcommand", "k"))).toEqual([]);
    expect(commandKeys(cmd("ping"))).toEqual([]);
  });

  it("routes a request to its slot, anywhere without keys, and refuses keys across slots", () => {
    expect(routeOf([cmd("get", "{u}:a"), cmd("incr", "{u}:b")])).toEqual({
      kind: "slot",
      slot: keySlot("u"),
    });
    expect(routeOf([cmd("ping")])).toEqual({ kind: "any" });
    expect(routeOf([cmd("get", "a"), cmd("get", "b")])).toEqual({ kind: "cross" });
  });

  it("retries only replies that prove the command did not run", () => {
    expect(retryAdvice(reply("MOVED 12 127.0.0.1:7001"), 100)).toEqual({
      kind: "moved",
      slot: 12,
      node: "127.0.0.1:7001",
    });
    expect(retryAdvice(reply("ASK 12 127.0.0.1:7001"), 100)).toEqual({ kind: "ask", node: "127.0.0.1:7001" });
    expect(retryAdvice(reply("CLUSTERDOWN The cluster is down"), 100)).toEqual({ kind: "wait", ms: 100 });
    expect(retryAdvice(new Error("Connection is closed."), 100)).toEqual({ kind: "fail", refresh: true });
    const notSent = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    expect(retryAdvice(notSent, 100)).toEqual({ kind: "wait", ms: 100 });
    expect(retryAdvice(new Error("Command timed out"), 100)).toEqual({ kind: "fail", refresh: true });
    expect(retryAdvice(reply("ERR wrong number of arguments"), 100)).toEqual({
      kind: "fail",
      refresh: false,
    });
  });
});

describe("cluster flags", () => {
  it("--redis-cluster and REDIS_CLUSTER give seeds; with --redis it is an error", () => {
    const flag = parseCli(["--redis-cluster", "127.0.0.1:7000,127.0.0.1:7001", "--token", "t"], {});
    expect(flag).toMatchObject({
      ok: true,
      value: { options: { redisCluster: ["127.0.0.1:7000", "127.0.0.1:7001"] } },
    });
    const env = parseCli(["--token", "t"], { REDIS_CLUSTER: "redis://127.0.0.1:7000" });
    expect(env).toMatchObject({ ok: true, value: { options: { redisCluster: ["redis://127.0.0.1:7000"] } } });
    expect(parseCli(["--redis", "redis://x:1", "--redis-cluster", "x:2"], {})).toMatchObject({ ok: false });
    expect(parseCli(["--redis-cluster", " "], {})).toMatchObject({ ok: false });
  });

  it("validates the seeds before anything listens", () => {
    expect(resolveProxyOptions({ redisCluster: ["127.0.0.1:7000"], token: "t" })).toMatchObject({
      ok: true,
      value: { cluster: { nodes: [{ host: "127.0.0.1", port: 7000 }] } },
    });
    expect(resolveProxyOptions({ redisCluster: ["ftp://x:1"], token: "t" }).ok).toBe(false);
  });
});
