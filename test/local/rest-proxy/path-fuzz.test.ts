/** @module Fuzzing the path-style surface: random URLs, methods, query strings, tokens and bodies never get a 5xx or hang. */
import { request } from "node:http";
import fc from "fast-check";
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostileString, inBatches, params, report } from "../../fuzz/fuzz";
import { proxySuite } from "./suite";

const READ_ONLY = "fuzz-read-only";
const SENTINEL = "pf:sentinel";
const suite = proxySuite(["--read-only-token", READ_ONLY]);
let raw: IoRedis;

beforeAll(async () => {
  raw = new IoRedis(suite.redis.url);
  await raw.set(SENTINEL, "alive");
});
afterAll(() => raw?.disconnect());

/** One request with its path sent exactly as given (no URL normalisation of `..` or escapes). */
function send(method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  return new Promise<{ status: number; type: string | undefined; text: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: suite.proxy.port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // A lone surrogate: send the bytes it would have, which are not UTF-8.
    return "%ED%A0%80";
  }
}

// Harmless command names (and unknown ones); the refused ones must be refused here as in JSON bodies.
const NAMES = [
  "get",
  "SET",
  "incr",
  "del",
  "exists",
  "mget",
  "hset",
  "hgetall",
  "lpush",
  "ttl",
  "echo",
  "nosuch",
];
const REFUSED = [
  "flushall",
  "FLUSHDB",
  "config",
  "shutdown",
  "debug",
  "select",
  "multi",
  "blpop",
  "constructor",
];
const junk = fc.constantFrom("%", "%zz", "%FF", "%C3%28", "%00", "%2F", "+", "%25", "", "..", ".", "%2e%2e");
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.nat(9).map((n) => `pf:k:${n}`) },
  { weight: 3, arbitrary: hostileString(12).map(encode) },
  { weight: 1, arbitrary: junk },
);
const query = fc.array(
  fc.oneof(
    fc.tuple(hostileString(6).map(encode), hostileString(6).map(encode)).map(([k, v]) => `${k}=${v}`),
    fc.constantFrom("EX=100", "NX", "_token=wrong", `_token=${READ_ONLY}`, "", "=", "&&", "%ZZ=1"),
  ),
  { maxLength: 3 },
);
const auth = fc.constantFrom<"full" | "read" | "none" | "query" | "wrong">(
  "full",
  "read",
  "none",
  "query",
  "wrong",
);
const input = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "HEAD", "DELETE", "PATCH"),
  name: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...NAMES) },
    { weight: 1, arbitrary: fc.constantFrom(...REFUSED) },
  ),
  args: fc.array(segment, { maxLength: 5 }),
  query,
  auth,
  body: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
});

describe("path-style fuzz", () => {
  const RUNS = 1500;
  it(`answers ${RUNS} random path-style requests with JSON 2xx/4xx, refuses refused commands`, async () => {
    const cases = fc.sample(input, params(RUNS));
    const answers = await inBatches(cases, 20, async (c) => {
      const headers: Record<string, string> = {};
      if (c.auth === "full") headers.authorization = `Bearer ${suite.proxy.token}`;
      if (c.auth === "read") headers.authorization = `Bearer ${READ_ONLY}`;
      if (c.auth === "wrong") headers.authorization = `Bearer ${suite.proxy.token}x`;
      const q = [...c.query, ...(c.auth === "query" ? [`_token=${suite.proxy.token}`] : [])].join("&");
      const path = `/${c.name}/${c.args.join("/")}${q ? `?${q}` : ""}`;
      // Node's HTTP parser refuses a body on HEAD (400, connection closed): bodies go with the methods that have one.
      const body = c.body && !["GET", "HEAD", "DELETE"].includes(c.method) ? Buffer.from(c.body) : undefined;
      return { c, res: await send(c.method, path, headers, body) };
    });
    for (const { c, res } of answers) {
      const label = JSON.stringify({ ...c, body: c.body?.length });
      expect([200, 400, 401, 403, 405], label).toContain(res.status);
      expect(res.type, label).toBe("application/json");
      if (c.method === "HEAD") continue;
      const body = JSON.parse(res.text) as { result?: unknown; error?: string };
      expect("result" in body || typeof body.error === "string", label).toBe(true);
      if (res.status === 200 && REFUSED.includes(c.name)) throw new Error(`ran a refused command: ${label}`);
    }
    // The generator reaches every answer: run, refused or failed, read-only refusal, no token, bad method.
    expect(new Set(answers.map((a) => a.res.status))).toEqual(new Set([200, 400, 401, 403, 405]));
    expect(await raw.get(SENTINEL)).toBe("alive");
    const health = await fetch(`${suite.proxy.url}/healthz`);
    expect(health.status).toBe(200);
    report("rest-proxy / path-style requests", RUNS);
  }, 120_000);
});
