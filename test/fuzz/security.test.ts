import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenCheck } from "../../local/rest-proxy/http";
import { startNginx } from "../../local/stack";
import {
  type EdgeProcess,
  freePort,
  type ManagedProcess,
  type RedisServer,
  startEdgeProcess,
  startRedis,
} from "../../local/support";
import { bearerMatches } from "../../workers/http/auth";
import { startTestProxy, type TestProxy } from "../helpers/proxy";
import { params, rawRequest, report } from "./fuzz";

// Distinct, greppable secrets: if any of them (or a wrong guess containing one) shows up in a log, it leaked.
const CHECK_TOKEN = `chk-${randomBytes(12).toString("hex")}`;
const WRONG_REDIS_TOKEN = `wrongredis-${randomBytes(12).toString("hex")}`;

const POLICIES = {
  prefix: "sec",
  policies: { p: { limits: [{ name: "burst", capacity: 3, refill: "1/m" }] } },
  routes: [{ path: "/*", policy: "p", key: "ip" }],
};

/** One edge instance as its own process (local/stack/edge/cli.ts), so everything workerd prints is captured. */
function startEdgeAs(redisToken: string, proxyUrl: string): Promise<EdgeProcess> {
  return startEdgeProcess({
    bindings: {
      POLICIES: JSON.stringify(POLICIES),
      UPSTASH_REDIS_REST_URL: proxyUrl,
      UPSTASH_REDIS_REST_TOKEN: redisToken,
      CHECK_API_TOKEN: CHECK_TOKEN,
      INSTANCE_ID: "edge-security",
    },
  });
}

/** Wrong tokens: the right length with different content, and every other length, near misses first. */
function wrongTokens(right: string, n: number): string[] {
  const near = [
    "",
    " ",
    right.slice(0, -1),
    `${right}x`,
    `${right} ${right}`,
    right.toUpperCase() === right ? right.toLowerCase() : right.toUpperCase(),
    `${right.slice(0, -1)}${right.endsWith("0") ? "1" : "0"}`,
    `x${right.slice(1)}`,
    right.repeat(2),
    "a".repeat(right.length),
    "a".repeat(4096),
  ];
  const token = fc.oneof(
    fc.string({ unit: "binary-ascii", minLength: right.length, maxLength: right.length }),
    fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 200 }),
  );
  const generated = fc.sample(token, { numRuns: n, seed: params(0).seed });
  // Header values can't carry control characters or surrounding whitespace (they'd be trimmed to another value).
  return [...near, ...generated]
    .map((t) =>
      [...t]
        .map((ch) => (ch < " " || ch === "\u007f" ? "x" : ch))
        .join("")
        .trim(),
    )
    .filter((t) => t !== right);
}

describe("security: token comparison", () => {
  const RUNS = 10_000;
  it(`proxy token check accepts exactly "Bearer <token>" (${RUNS} generated headers)`, () => {
    const token = fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 64 });
    fc.assert(
      fc.property(
        token,
        token,
        fc.constantFrom("Bearer ", "bearer ", "Bearer  ", "Basic ", "", "Bearer"),
        (right, guess, scheme) => {
          const check = createTokenCheck(right);
          expect(check(`Bearer ${right}`)).toBe(true);
          expect(check(`${scheme}${guess}`)).toBe(`${scheme}${guess}` === `Bearer ${right}`);
          expect(check(undefined)).toBe(false);
        },
      ),
      params(RUNS),
    );
    report("security / proxy token check", RUNS);
  });

  it(`check API bearerMatches accepts exactly the token, any scheme case (${RUNS} generated headers)`, async () => {
    // A configured token is trimmed and travels in a header: visible ASCII, spaces inside.
    const token = fc
      .string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        minLength: 1,
        maxLength: 64,
      })
      .map((t) => t.trim())
      .filter((t) => t.length > 0);
    await fc.assert(
      fc.asyncProperty(
        token,
        token,
        fc.constantFrom("Bearer ", "bearer ", "BEARER\t", "Bearer  ", "Basic ", "", "Bearer"),
        async (right, guess, scheme) => {
          expect(await bearerMatches(`Bearer ${right}`, right)).toBe(true);
          const header = `${scheme}${guess}`;
          const m = /^Bearer\s+(.+)$/i.exec(header);
          expect(await bearerMatches(header, right)).toBe(m !== null && (m[1] ?? "").trim() === right);
          expect(await bearerMatches(null, right)).toBe(false);
        },
      ),
      params(RUNS),
    );
    report("security / check API bearerMatches", RUNS);
  });
});

describe("security: the running services", () => {
  let redis: RedisServer;
  let proxy: TestProxy;
  let edge: EdgeProcess;
  let brokenEdge: EdgeProcess;
  let nginx: ManagedProcess;
  let gateway: string;
  let runDir: string;
  const guesses: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startTestProxy(redis.url);
    // One edge with the right proxy token, one with a wrong one: its every Redis call fails and is logged.
    [edge, brokenEdge] = await Promise.all([
      startEdgeAs(proxy.token, proxy.url),
      startEdgeAs(WRONG_REDIS_TOKEN, proxy.url),
    ]);
    runDir = mkdtempSync(join(tmpdir(), "erl-security-"));
    const port = await freePort();
    gateway = `http://127.0.0.1:${port}`;
    nginx = await startNginx({ listen: `127.0.0.1:${port}`, edges: [`127.0.0.1:${edge.port}`], runDir });
  }, 90_000);
  afterAll(async () => {
    await Promise.all([nginx?.stop(), edge?.process.stop(), brokenEdge?.process.stop()]);
    await proxy?.stop();
    await redis?.stop();
  });

  async function expect401(url: string, init: RequestInit, what: string) {
    const res = await fetch(url, init);
    const body = await res.text();
    expect(res.status, `${what}: ${body}`).toBe(401);
    expect(() => JSON.parse(body), what).not.toThrow();
  }

  it("the proxy answers 401 JSON to every wrong token, of equal and of different length, on every route", async () => {
    const wrong = wrongTokens(proxy.token, 150);
    guesses.push(...wrong);
    const sameLength = wrong.filter((t) => t.length === proxy.token.length).length;
    for (const route of ["/", "/pipeline", "/multi-exec"]) {
      const body = route === "/" ? '["PING"]' : '[["PING"]]';
      await Promise.all(
        wrong.map((t) =>
          expect401(
            `${proxy.url}${route}`,
            { method: "POST", headers: { Authorization: `Bearer ${t}` }, body },
            `${route} ${t}`,
          ),
        ),
      );
      await expect401(`${proxy.url}${route}`, { method: "POST", body }, `${route} without a token`);
      await expect401(
        `${proxy.url}${route}`,
        { method: "POST", headers: { Authorization: proxy.token }, body },
        `${route} without the scheme`,
      );
      const right = await fetch(`${proxy.url}${route}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${proxy.token}` },
        body,
      });
      expect(right.status).toBe(200);
    }
    report("security / proxy wrong tokens", wrong.length * 3, `${sameLength} of them the token's length`);
    expect(sameLength).toBeGreaterThan(50);
  });

  it("the check API answers 401 problem+json to every wrong token, of equal and of different length", async () => {
    const wrong = wrongTokens(CHECK_TOKEN, 150);
    guesses.push(...wrong);
    const body = JSON.stringify({ policy: "p", key: "k" });
    const paths: [string, string][] = [
      ["POST", "/v1/check"],
      ["GET", "/v1/buckets/p/k"],
      ["DELETE", "/v1/buckets/p/k"],
    ];
    for (const [method, path] of paths) {
      const init = (token: string | null): RequestInit => ({
        method,
        headers: token === null ? {} : { Authorization: `Bearer ${token}` },
        body: method === "POST" ? body : undefined,
      });
      const answers = await Promise.all(wrong.map((t) => fetch(`${edge.url}${path}`, init(t))));
      for (const [i, res] of answers.entries()) {
        expect(res.status, `${method} ${path} with ${wrong[i]}`).toBe(401);
        expect(res.headers.get("Content-Type")).toBe("application/problem+json");
        expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edge-rate-limiter"');
        await res.text();
      }
      expect((await fetch(`${edge.url}${path}`, init(null))).status).toBe(401);
      expect((await fetch(`${edge.url}${path}`, init(CHECK_TOKEN))).status).toBe(200);
    }
    report("security / check API wrong tokens", wrong.length * paths.length);
  });

  it("no token or wrong guess ever appears in the proxy's, the edges' or NGINX's output", async () => {
    // Traffic that exercises every log line: decisions, Redis failures on the edge with the wrong
    // proxy token, wrong check tokens, and requests through NGINX carrying the tokens in headers.
    for (let i = 0; i < 5; i++) {
      const headers = { "CF-Connecting-IP": "203.0.113.9", Authorization: `Bearer ${CHECK_TOKEN}` };
      expect((await fetch(`${edge.url}/x`, { headers })).status).toBeOneOf([200, 429]);
      expect((await fetch(`${brokenEdge.url}/x`, { headers })).status).toBe(200); // fails open
      expect((await fetch(`${gateway}/x?q=1`, { headers })).status).toBeOneOf([200, 429]);
      const check = { method: "POST", body: JSON.stringify({ policy: "p", key: "k" }) };
      await fetch(`${gateway}/v1/check`, { ...check, headers: { Authorization: `Bearer ${CHECK_TOKEN}` } });
      await fetch(`${gateway}/v1/check`, { ...check, headers: { Authorization: `Bearer ${CHECK_TOKEN}x` } });
      await fetch(`${brokenEdge.url}/v1/check`, {
        ...check,
        headers: { Authorization: `Bearer ${CHECK_TOKEN}` },
      });
    }
    await new Promise((r) => setTimeout(r, 1500)); // NGINX flushes its access log buffer every second
    const logs: [string, string][] = [
      ["proxy", proxy.process.output()],
      ["edge", edge.process.output()],
      ["edge with the wrong proxy token", brokenEdge.process.output()],
      ["nginx stderr", nginx.output()],
      ["nginx access.log", readFileSync(join(runDir, "access.log"), "utf8")],
    ];
    // The capture works: the failing edge did log its Redis errors, and NGINX logged the requests.
    expect(brokenEdge.process.output()).toContain("Redis error");
    expect(readFileSync(join(runDir, "access.log"), "utf8")).toContain("/v1/check");
    const secrets = [proxy.token, CHECK_TOKEN, WRONG_REDIS_TOKEN, ...guesses.filter((g) => g.length >= 12)];
    for (const [name, text] of logs) {
      for (const secret of secrets) expect(text.includes(secret), `${name} contains ${secret}`).toBe(false);
    }
    report("security / logs checked for secrets", secrets.length, `${logs.length} logs`);
  });

  it("client-sent CF-Connecting-IP and X-Forwarded-For never choose the bucket", async () => {
    const raw = new IoRedis(redis.url);
    try {
      const spoofed = {
        "CF-Connecting-IP": "198.51.100.1",
        "X-Forwarded-For": "198.51.100.2",
        "X-Real-IP": "198.51.100.3",
      };
      // Through NGINX the peer address wins: NGINX overwrites all three headers.
      expect((await fetch(`${gateway}/spoof`, { headers: spoofed })).status).toBeOneOf([200, 429]);
      const keys = await raw.keys("sec:*");
      expect(keys.some((k) => k.includes("198.51.100"))).toBe(false);
      expect(keys).toContain("sec:{ip:127.0.0.1}:p:burst");
      // Straight to an edge (only NGINX or Cloudflare should be able to reach it) X-Forwarded-For is ignored.
      const direct = await fetch(`${edge.url}/spoof`, { headers: { "X-Forwarded-For": "198.51.100.2" } });
      expect(direct.status).toBe(400);
      expect((await direct.json()).detail).toBe(
        "missing CF-Connecting-IP header (set by Cloudflare or the local NGINX gateway)",
      );
    } finally {
      raw.disconnect();
    }
  });

  describe("NGINX limits", () => {
    const problemOf = (res: { status: number; type: string | undefined; body: string }) => ({
      status: res.status,
      type: res.type,
      body: JSON.parse(res.body),
    });

    it("a body over 1 MiB gets 413 problem+json before it reaches an edge; 1 MiB passes", async () => {
      const auth = { Authorization: `Bearer ${CHECK_TOKEN}`, "Content-Type": "application/json" };
      const over = await rawRequest(`${gateway}/v1/check`, {
        method: "POST",
        headers: auth,
        body: "x".repeat(1024 * 1024 + 1),
      });
      expect(problemOf(over)).toEqual({
        status: 413,
        type: "application/problem+json",
        body: {
          type: "about:blank",
          title: "Content Too Large",
          status: 413,
          detail: "request body over 1 MiB",
        },
      });
      // Exactly 1 MiB reaches the check API, which names the problem with its body.
      const limit = await rawRequest(`${gateway}/v1/check`, {
        method: "POST",
        headers: auth,
        body: "x".repeat(1024 * 1024),
      });
      expect(limit.status).toBe(400);
      expect(JSON.parse(limit.body).detail).toMatch(/^body: not valid JSON/);
    });

    it("a header line over 16 KiB, or headers over 64 KiB in all, get 431 problem+json", async () => {
      const expected = {
        status: 431,
        type: "application/problem+json",
        body: {
          type: "about:blank",
          title: "Request Header Fields Too Large",
          status: 431,
          detail: "request headers too large",
        },
      };
      const one = await rawRequest(`${gateway}/x`, { headers: { "X-Api-Key": "k".repeat(17 * 1024) } });
      expect(problemOf(one)).toEqual(expected);
      const many: Record<string, string> = {};
      for (let i = 0; i < 10; i++) many[`X-Filler-${i}`] = "f".repeat(8 * 1024);
      expect(problemOf(await rawRequest(`${gateway}/x`, { headers: many }))).toEqual(expected);
      // Just under the line limit still reaches the edge.
      const fits = await rawRequest(`${gateway}/x`, { headers: { "X-Api-Key": "k".repeat(15 * 1024) } });
      expect(fits.status).toBeOneOf([200, 429]);
    });

    it("a request line over 16 KiB gets a JSON error too", async () => {
      const res = await rawRequest(`${gateway}/x?${"q".repeat(17 * 1024)}`, {});
      expect(res.status).toBe(414);
      expect(res.type).toBe("application/problem+json");
      expect(JSON.parse(res.body)).toMatchObject({ status: 414 });
    });
  });
});
