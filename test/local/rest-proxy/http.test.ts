/** @module Raw HTTP behaviour of the proxy: auth, malformed bodies, methods, paths, limits, policy, encoding. */
import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { proxySuite } from "./suite";

const suite = proxySuite();

interface Reply {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${suite.proxy.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${suite.proxy.token}`, "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, contentType: res.headers.get("content-type"), body: await res.json() };
}

function command(parts: unknown[], headers?: Record<string, string>): Promise<Reply> {
  return post("/", JSON.stringify(parts), headers);
}

describe("authentication", () => {
  it("answers 401 JSON without a token", async () => {
    const res = await post("/", '["PING"]', { authorization: "" });
    expect(res).toEqual({ status: 401, contentType: "application/json", body: { error: "Unauthorized" } });
  });

  it("answers 401 JSON for a wrong token, a token of another length, or no Bearer prefix", async () => {
    for (const authorization of [
      "Bearer wrong",
      `Bearer ${suite.proxy.token}x`,
      suite.proxy.token,
      `bearer ${suite.proxy.token}`,
    ]) {
      const res = await post("/pipeline", '[["PING"]]', { authorization });
      expect(res).toEqual({ status: 401, contentType: "application/json", body: { error: "Unauthorized" } });
    }
  });

  it("accepts the right token", async () => {
    expect(await command(["PING"])).toEqual({
      status: 200,
      contentType: "application/json",
      body: { result: "PONG" },
    });
  });
});

describe("malformed requests", () => {
  it("answers 400 JSON for a body that is not JSON", async () => {
    const res = await post("/", '["set", "k"');
    expect(res).toEqual({
      status: 400,
      contentType: "application/json",
      body: { error: "ERR proxy: the body is not valid JSON" },
    });
  });

  it("answers 400 JSON for a body that is not an array", async () => {
    expect((await post("/", '{"cmd":"get"}')).body).toEqual({
      error: "ERR proxy: a command must be a JSON array",
    });
    const pipeline = await post("/pipeline", '"get"');
    expect(pipeline).toEqual({
      status: 400,
      contentType: "application/json",
      body: { error: "ERR proxy: the body must be a JSON array of commands" },
    });
  });

  it("answers 400 JSON for an empty command, an empty pipeline and bad arguments", async () => {
    expect(await command([])).toEqual({
      status: 400,
      contentType: "application/json",
      body: { error: "ERR proxy: empty command" },
    });
    expect((await post("/multi-exec", "[]")).body).toEqual({ error: "ERR proxy: empty pipeline" });
    expect((await post("/pipeline", '[["get","a"],[]]')).body).toEqual({
      error: "ERR proxy: empty command (command 2)",
    });
    expect((await command(["set", "k", { a: 1 }])).body).toEqual({
      error: "ERR proxy: argument 2 must be a string, number or boolean",
    });
  });

  it("answers 405 JSON for GET and PUT on /pipeline", async () => {
    for (const method of ["GET", "PUT"]) {
      const res = await fetch(`${suite.proxy.url}/pipeline`, {
        method,
        headers: { authorization: `Bearer ${suite.proxy.token}` },
        body: method === "PUT" ? "[]" : undefined,
      });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(await res.json()).toEqual({
        error: `ERR proxy: method ${method} not allowed on /pipeline, use POST`,
      });
    }
  });

  it("treats any other path as a path-style command, the POST body as its last argument", async () => {
    const res = await post("/set/foo", '["get","a"]');
    expect(res).toEqual({ status: 200, contentType: "application/json", body: { result: "OK" } });
    expect((await command(["get", "foo"])).body).toEqual({ result: '["get","a"]' });
  });

  it("answers a 2 MiB body with 413 JSON that fetch can read, and keeps serving", async () => {
    const huge = JSON.stringify(["set", "huge2", "x".repeat(2 * 1024 * 1024)]);
    const res = await post("/", huge);
    expect(res).toEqual({
      status: 413,
      contentType: "application/json",
      body: { error: "ERR proxy: request body larger than 1048576 bytes" },
    });
    expect(await command(["EXISTS", "huge2"])).toMatchObject({ status: 200, body: { result: 0 } });
  });

  it("hands @upstash/redis the 413's error for a 2 MiB value, not a broken pipe", async () => {
    const redis = new Redis({ url: suite.proxy.url, token: suite.proxy.token, retry: false });
    const error = await redis.set("huge3", "x".repeat(2 * 1024 * 1024)).then(
      () => null,
      (e: Error) => e,
    );
    // The client appends ", command was: <the command>": compare the proxy's part only.
    expect(error?.message.split(", command was:")[0]).toBe(
      "ERR proxy: request body larger than 1048576 bytes",
    );
    expect(await redis.exists("huge3")).toBe(0);
  });

  it("cuts the connection, without reading it, for a body past 8 × the limit", async () => {
    const outcome = await fetch(`${suite.proxy.url}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${suite.proxy.token}` },
      body: JSON.stringify(["set", "huge4", "x".repeat(9 * 1024 * 1024)]),
    }).then(
      (r) => r.status,
      (e: Error) => e.name,
    );
    expect(outcome).toBe("TypeError"); // fetch failed: the socket was closed
    expect(await command(["EXISTS", "huge4"])).toMatchObject({ status: 200, body: { result: 0 } });
  });

  it("answers 413 JSON for a body over 1 MiB", async () => {
    const huge = JSON.stringify(["set", "huge", "x".repeat(1024 * 1024)]);
    const res = await post("/", huge);
    expect(res).toEqual({
      status: 413,
      contentType: "application/json",
      body: { error: "ERR proxy: request body larger than 1048576 bytes" },
    });
    expect(await command(["EXISTS", "huge"])).toMatchObject({ status: 200, body: { result: 0 } });
  });
});

describe("command policy", () => {
  it.each([
    [["FLUSHALL"], "FLUSHALL"],
    [["flushdb", "async"], "FLUSHDB"],
    [["config", "set", "maxmemory", "1"], "CONFIG"],
    [["script", "kill"], "SCRIPT KILL"],
    [["client", "kill", "id", "1"], "CLIENT KILL"],
    [["blpop", "q", "0"], "BLPOP"],
    [["xread", "block", "0", "streams", "s", "$"], "XREAD"],
    [["shutdown", "nosave"], "SHUTDOWN"],
  ])("refuses %j with 400 JSON naming %s", async (parts, name) => {
    expect(await command(parts)).toEqual({
      status: 400,
      contentType: "application/json",
      body: {
        error: `ERR proxy: ${name} is refused by the proxy (start it with --allow-all-commands to allow it)`,
      },
    });
  });

  it("never runs commands that would change the shared connection", async () => {
    expect((await command(["select", "1"])).body).toEqual({
      error: "ERR proxy: SELECT is not supported (it would change the shared Redis connection)",
    });
    expect((await command(["multi"])).body).toEqual({
      error:
        "ERR proxy: MULTI is not supported (it would change the shared Redis connection); send transactions to /multi-exec",
    });
  });

  it("refuses an entry of a pipeline but runs the others; refuses a whole transaction", async () => {
    const pipeline = await post(
      "/pipeline",
      JSON.stringify([["set", "pk", "1"], ["flushall"], ["get", "pk"]]),
    );
    expect(pipeline.status).toBe(200);
    expect(pipeline.body).toEqual([
      { result: "OK" },
      {
        error: "ERR proxy: FLUSHALL is refused by the proxy (start it with --allow-all-commands to allow it)",
      },
      { result: "1" },
    ]);
    const tx = await post("/multi-exec", JSON.stringify([["incr", "tk"], ["flushdb"]]));
    expect(tx.status).toBe(400);
    expect(tx.body).toEqual({
      error: "ERR proxy: FLUSHDB is refused by the proxy (start it with --allow-all-commands to allow it)",
    });
    expect((await command(["EXISTS", "tk"])).body).toEqual({ result: 0 });
  });
});

describe("results and errors", () => {
  it("turns JSON numbers and booleans into strings", async () => {
    await command(["set", "num", 12.5]);
    expect((await command(["get", "num"])).body).toEqual({ result: "12.5" });
    await command(["set", "bool", true]);
    expect((await command(["get", "bool"])).body).toEqual({ result: "true" });
  });

  it("base64-encodes every string, recursively, when asked", async () => {
    const b64 = { "upstash-encoding": "base64" };
    expect((await command(["set", "b", "hi"], b64)).body).toEqual({ result: "T0s=" });
    expect(
      (await command(["eval", "return {'a', {1, 'b'}, redis.status_reply('OK')}", 0], b64)).body,
    ).toEqual({
      result: ["YQ==", [1, "Yg=="], "T0s="],
    });
    const pipeline = await post(
      "/pipeline",
      JSON.stringify([
        ["get", "b"],
        ["incr", "b"],
      ]),
      b64,
    );
    expect(pipeline.body).toEqual([
      { result: "aGk=" },
      { error: "ERR value is not an integer or out of range" },
    ]);
  });

  it("passes Redis errors through verbatim with 400", async () => {
    expect(await command(["nosuchcommand", "x"])).toEqual({
      status: 400,
      contentType: "application/json",
      body: { error: "ERR unknown command 'nosuchcommand', with args beginning with: 'x' " },
    });
  });

  it("answers a transaction with an entry per command, and EXECABORT with 400", async () => {
    const tx = await post(
      "/multi-exec",
      JSON.stringify([
        ["set", "t", "a"],
        ["incr", "t"],
        ["get", "t"],
      ]),
    );
    expect(tx).toMatchObject({
      status: 200,
      body: [{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: "a" }],
    });
    const aborted = await post(
      "/multi-exec",
      JSON.stringify([
        ["set", "t"],
        ["get", "t"],
      ]),
    );
    expect(aborted).toEqual({
      status: 400,
      contentType: "application/json",
      body: { error: "EXECABORT Transaction discarded because of previous errors." },
    });
  });

  it("reports health without a token", async () => {
    const res = await fetch(`${suite.proxy.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: "OK" });
  });
});
