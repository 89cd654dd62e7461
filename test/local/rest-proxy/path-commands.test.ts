/** @module Upstash's REST surface beyond POST bodies, over raw HTTP: path-style commands, `?_token=`, the sync token. */
import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { proxySuite } from "./suite";

const suite = proxySuite();

interface Reply {
  status: number;
  body: unknown;
  sync: string | null;
}

async function call(path: string, init: RequestInit = {}, auth: "header" | "query" | "none" = "header") {
  const headers = new Headers(init.headers);
  if (auth === "header") headers.set("authorization", `Bearer ${suite.proxy.token}`);
  const url =
    auth === "query"
      ? `${suite.proxy.url}${path}${path.includes("?") ? "&" : "?"}_token=${suite.proxy.token}`
      : `${suite.proxy.url}${path}`;
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? null : (JSON.parse(text) as unknown),
    sync: res.headers.get("upstash-sync-token"),
  } satisfies Reply;
}

describe("path-style commands", () => {
  it("runs /set/foo/bar, /get/foo and options in the path, by GET, POST and PUT", async () => {
    expect((await call("/set/p1/bar")).body).toEqual({ result: "OK" });
    expect((await call("/get/p1")).body).toEqual({ result: "bar" });
    expect((await call("/set/p2/v/EX/100", { method: "POST" })).body).toEqual({ result: "OK" });
    expect((await call("/ttl/p2")).body).toEqual({ result: 100 });
    expect((await call("/mget/p1/p2/none", { method: "PUT" })).body).toEqual({ result: ["bar", "v", null] });
    expect((await call("/zadd/teams/100/team-x/90/team-y")).body).toEqual({ result: 2 });
    expect((await call("/zrange/teams/0/-1/WITHSCORES")).body).toEqual({
      result: ["team-y", "90", "team-x", "100"],
    });
  });

  it("appends a POST or PUT body as the last argument, byte for byte, then the query options", async () => {
    const json = '{"user":"ü","n":[1,2]}\n';
    expect((await call("/set/doc?EX=60", { method: "POST", body: json })).body).toEqual({ result: "OK" });
    expect((await call("/get/doc")).body).toEqual({ result: json });
    expect((await call("/ttl/doc")).body).toEqual({ result: 60 });
    expect((await call("/set/doc?NX", { method: "PUT", body: "other" })).body).toEqual({ result: null });
    // GET has no value: its body (if any) is ignored, and an empty POST body adds no argument.
    expect((await call("/get/doc", { method: "POST" })).body).toEqual({ result: json });
  });

  it("URL-decodes each segment: unicode, slashes, percent signs, NUL, plus and empty segments", async () => {
    const value = "✓ ключ/%00+\u0000";
    const path = `/set/${encodeURIComponent("k/ü")}/${encodeURIComponent(value)}`;
    expect((await call(path)).body).toEqual({ result: "OK" });
    expect((await call(`/get/${encodeURIComponent("k/ü")}`)).body).toEqual({ result: value });
    expect((await call("/set/plus/a+b")).body).toEqual({ result: "OK" });
    expect((await call("/get/plus")).body).toEqual({ result: "a+b" });
    expect((await call("/set/empty/")).body).toEqual({ result: "OK" });
    expect((await call("/strlen/empty")).body).toEqual({ result: 0 });
    expect((await call("/get/plus", { headers: { "upstash-encoding": "base64" } })).body).toEqual({
      result: Buffer.from("a+b").toString("base64"),
    });
  });

  it("answers 400 JSON for bytes that are not UTF-8 text and for malformed escapes", async () => {
    expect(await call("/set/k/%FF%FE")).toMatchObject({
      status: 400,
      body: { error: "ERR proxy: path segment 3 is not valid URL-encoded UTF-8 (arguments must be text)" },
    });
    expect((await call("/get/%G1")).body).toEqual({
      error: "ERR proxy: path segment 2 is not valid URL-encoded UTF-8 (arguments must be text)",
    });
    expect((await call("/set/k", { method: "POST", body: new Uint8Array([0xff, 0x00]) })).body).toEqual({
      error: "ERR proxy: the request body is not valid UTF-8 text",
    });
    expect((await call("/set/k/v?EX=%FF")).body).toEqual({
      error: "ERR proxy: a query parameter is not valid URL-encoded UTF-8",
    });
    expect((await call("//k")).body).toEqual({ error: "ERR proxy: empty command name in the path" });
  });

  it("applies the refused-command list exactly as to JSON bodies", async () => {
    const refused = (name: string) => ({
      error: `ERR proxy: ${name} is refused by the proxy (start it with --allow-all-commands to allow it)`,
    });
    expect(await call("/flushall")).toMatchObject({ status: 400, body: refused("FLUSHALL") });
    expect((await call("/config/set/maxmemory/1")).body).toEqual(refused("CONFIG"));
    expect((await call("/script/kill")).body).toEqual(refused("SCRIPT KILL"));
    expect((await call("/blpop/q/0")).body).toEqual(refused("BLPOP"));
    expect((await call("/select/1")).body).toEqual({
      error: "ERR proxy: SELECT is not supported (it would change the shared Redis connection)",
    });
    expect((await call("/constructor")).body).toEqual({
      error: "ERR proxy: 'constructor' is not a Redis command",
    });
    expect((await call("/nosuch/x")).body).toEqual({
      error: "ERR unknown command 'nosuch', with args beginning with: 'x' ",
    });
  });

  it("answers 405 JSON with Allow for other methods, 401 JSON without a token", async () => {
    const res = await fetch(`${suite.proxy.url}/get/k`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${suite.proxy.token}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST, PUT");
    expect(await res.json()).toEqual({
      error: "ERR proxy: method DELETE not allowed, use GET, HEAD, POST or PUT",
    });
    expect(await call("/get/k", {}, "none")).toEqual({
      status: 401,
      body: { error: "Unauthorized" },
      sync: null,
    });
  });
});

describe("?_token=", () => {
  it("authenticates path-style commands, POST /, /pipeline and /multi-exec", async () => {
    expect((await call("/set/qt/1", {}, "query")).body).toEqual({ result: "OK" });
    const post = (path: string, body: unknown) =>
      call(path, { method: "POST", body: JSON.stringify(body) }, "query");
    expect((await post("/", ["incr", "qt"])).body).toEqual({ result: 2 });
    expect(
      (
        await post("/pipeline", [
          ["incr", "qt"],
          ["get", "qt"],
        ])
      ).body,
    ).toEqual([{ result: 3 }, { result: "3" }]);
    expect((await post("/multi-exec", [["incr", "qt"]])).body).toEqual([{ result: 4 }]);
    // Other query parameters still become options; _token is never an argument.
    expect((await call("/set/qt2/v?EX=30", {}, "query")).body).toEqual({ result: "OK" });
    expect((await call("/ttl/qt2", {}, "query")).body).toEqual({ result: 30 });
  });

  it("answers 401 for a wrong or empty _token, and a present Authorization header wins", async () => {
    for (const query of ["?_token=wrong", "?_token=", `?_token=${suite.proxy.token}x`, "?token=x"]) {
      expect(await call(`/get/qt${query}`, {}, "none")).toEqual({
        status: 401,
        body: { error: "Unauthorized" },
        sync: null,
      });
    }
    const res = await fetch(`${suite.proxy.url}/get/qt?_token=${suite.proxy.token}`, {
      headers: { authorization: "Bearer wrong" },
    });
    expect(res.status).toBe(401);
  });

  it("never echoes the token: not in answers, errors or the proxy's output", async () => {
    const answers = await Promise.all([
      call("/nosuch/a/b/c", {}, "query"),
      call("/set/k/%FF", {}, "query"),
      call("/get/k/extra/args", {}, "query"),
      call("/", { method: "POST", body: "not json" }, "query"),
    ]);
    for (const answer of answers) expect(JSON.stringify(answer.body)).not.toContain(suite.proxy.token);
    expect(suite.proxy.process.output()).not.toContain(suite.proxy.token);
  });
});

describe("upstash-sync-token (read-your-writes)", () => {
  it("comes with every command answer and grows with each", async () => {
    const tokens: number[] = [];
    for (const path of ["/set/s/1", "/get/s", "/nosuch"]) tokens.push(Number((await call(path)).sync));
    const pipeline = await call("/pipeline", { method: "POST", body: '[["get","s"]]' });
    tokens.push(Number(pipeline.sync));
    expect(tokens.every((t, i) => Number.isInteger(t) && (i === 0 || t > (tokens[i - 1] as number)))).toBe(
      true,
    );
  });

  it("changes the @upstash/redis client's token after each request, which then reads its writes", async () => {
    const client = new Redis({ url: suite.proxy.url, token: suite.proxy.token, enableAutoPipelining: false });
    const before = client.readYourWritesSyncToken;
    await client.set("ryw", "written");
    const afterWrite = client.readYourWritesSyncToken;
    expect(await client.get("ryw")).toBe("written");
    expect(before).toBe("");
    expect(afterWrite).toMatch(/^\d+$/);
    expect(client.readYourWritesSyncToken).not.toBe(afterWrite);
  });
});
