/** @module Every dialect into the one model: drafts -03…-11, X-RateLimit-* (delta, epoch s, epoch ms), GitHub, Retry-After, precedence, erl-refill. */
import { describe, expect, it } from "vitest";
import { parseReset, readRateLimitInfo } from "../../client/index.ts";
import { parseDictionary } from "../../client/structured-fields.ts";
import { formatPolicyHeader } from "../../workers/headers";

const NOW = Date.UTC(2026, 11, 5, 6, 0, 0);

const limit = (fields: Record<string, unknown>) => ({
  key: "ratelimit\u0000",
  name: "ratelimit",
  refill: null,
  windowMs: null,
  quota: null,
  resetMs: null,
  ...fields,
});

describe("draft -03…-06: separate RateLimit-Limit, -Remaining, -Reset", () => {
  it("reads express-rate-limit's and hono-rate-limiter's draft-6 headers, policy included", () => {
    const headers = new Headers({
      "RateLimit-Policy": "10;w=2",
      "RateLimit-Limit": "10",
      "RateLimit-Remaining": "9",
      "RateLimit-Reset": "2",
    });
    expect(readRateLimitInfo(headers, NOW)).toEqual({
      limits: [limit({ remaining: 9, resetMs: 2000, quota: 10, windowMs: 2000, source: "draft-06" })],
      retryAfterMs: null,
      dialect: "draft-06",
    });
  });

  it("reads them without RateLimit-Policy, and -03…-05's policies listed in RateLimit-Limit", () => {
    const bare = new Headers({ "RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "1" });
    expect(readRateLimitInfo(bare, NOW).limits).toEqual([
      limit({ remaining: 0, resetMs: 1000, quota: 10, source: "draft-06" }),
    ]);
    const listed = new Headers({
      "RateLimit-Limit": "10, 1000;w=3600, 10;w=2",
      "RateLimit-Remaining": "4",
      "RateLimit-Reset": "1",
    });
    expect(readRateLimitInfo(listed, NOW).limits[0]).toMatchObject({ quota: 10, windowMs: 2000 });
  });

  it("needs a valid RateLimit-Remaining", () => {
    const headers = new Headers({
      "RateLimit-Limit": "10",
      "RateLimit-Remaining": "-1",
      "RateLimit-Reset": "2",
    });
    expect(readRateLimitInfo(headers, NOW).dialect).toBeNull();
  });
});

describe("draft -07: the combined dictionary", () => {
  it("reads express-rate-limit's draft-7 headers", () => {
    const headers = new Headers({
      RateLimit: "limit=10, remaining=9, reset=2",
      "RateLimit-Policy": "10;w=2",
    });
    expect(readRateLimitInfo(headers, NOW)).toEqual({
      limits: [limit({ remaining: 9, resetMs: 2000, quota: 10, windowMs: 2000, source: "draft-07" })],
      retryAfterMs: null,
      dialect: "draft-07",
    });
  });

  it("parses dictionaries leniently: bad members dropped, later duplicates win, bare keys true", () => {
    const dict = parseDictionary('remaining=1, Bad=2, limit=10, remaining=3, flag, reset="x"');
    expect([...dict.keys()]).toEqual(["remaining", "limit", "flag", "reset"]);
    expect(dict.get("remaining")?.value).toEqual({ type: "integer", value: 3 });
    expect(dict.get("flag")?.value).toEqual({ type: "boolean", value: true });
    const headers = new Headers({ RateLimit: 'limit=10, remaining="9", reset=2' });
    expect(readRateLimitInfo(headers, NOW).limits).toEqual([]);
  });
});

describe("drafts -08…-11: named items", () => {
  it("matches express-rate-limit's draft-8 item to its policy although only the policy has a pk", () => {
    const headers = new Headers({
      RateLimit: '"10-in-2sec"; r=9; t=2',
      "RateLimit-Policy": '"10-in-2sec"; q=10; w=2; pk=:MzlkNTU0ZmE2YjYy:',
    });
    expect(readRateLimitInfo(headers, NOW).limits).toEqual([
      {
        key: "10-in-2sec\u0000",
        name: "10-in-2sec",
        remaining: 9,
        resetMs: 2000,
        quota: 10,
        windowMs: 2000,
        refill: null,
        source: "draft-11",
      },
    ]);
  });

  it("matches by pk when both carry one", () => {
    const headers = new Headers({
      RateLimit: '"w";r=1;t=1;pk=:Yg==:',
      "RateLimit-Policy": '"w";q=5;w=1;pk=:YQ==:, "w";q=7;w=3;pk=:Yg==:',
    });
    expect(readRateLimitInfo(headers, NOW).limits[0]).toMatchObject({ quota: 7, windowMs: 3000 });
  });

  it("reads erl-refill=continuous from this project's policy header, and nothing else as that claim", () => {
    const ours = formatPolicyHeader([
      { name: "burst", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 },
    ]);
    expect(ours).toBe('"burst";q=10;w=2;erl-refill=continuous');
    const read = (policy: string) =>
      readRateLimitInfo(new Headers({ RateLimit: '"burst";r=3;t=1', "RateLimit-Policy": policy }), NOW)
        .limits[0]?.refill;
    expect(read(ours)).toBe("continuous");
    expect(read('"burst";q=10;w=2;erl-refill="Continuous"')).toBe("continuous");
    expect(read('"burst";q=10;w=2;erl-refill=window')).toBeNull();
    expect(read('"burst";q=10;w=2;refill=continuous')).toBeNull();
    expect(read('"burst";q=10;w=2')).toBeNull();
  });
});

describe("X-RateLimit-* and GitHub", () => {
  it("tells a delay, Unix seconds and Unix milliseconds apart by magnitude", () => {
    expect(parseReset("30", NOW)).toBe(30_000);
    expect(parseReset("999999999", NOW)).toBe(999_999_999_000);
    expect(parseReset(String(NOW / 1000 + 7), NOW)).toBe(7000);
    expect(parseReset(String(NOW + 7250), NOW)).toBe(7250);
    expect(parseReset(String(NOW - 5000), NOW)).toBe(0);
    expect(parseReset("soon", NOW)).toBeNull();
  });

  it("reads GitHub's headers: the resource names the limit, remaining from -used when absent", () => {
    const headers = new Headers({
      "x-ratelimit-limit": "60",
      "x-ratelimit-used": "58",
      "x-ratelimit-resource": "core",
      "x-ratelimit-reset": String(NOW / 1000 + 30),
    });
    expect(readRateLimitInfo(headers, NOW)).toEqual({
      limits: [
        {
          key: "core\u0000",
          name: "core",
          remaining: 2,
          resetMs: 30_000,
          quota: 60,
          windowMs: null,
          refill: null,
          source: "github",
        },
      ],
      retryAfterMs: null,
      dialect: "github",
    });
  });
});

describe("precedence and Retry-After", () => {
  it("uses only the first dialect with a usable limit: -11, -07, -06, github, x-ratelimit", () => {
    const all = {
      RateLimit: '"burst";r=1;t=1',
      "RateLimit-Policy": '"burst";q=10;w=2',
      "RateLimit-Limit": "20",
      "RateLimit-Remaining": "2",
      "X-RateLimit-Remaining": "3",
      "X-RateLimit-Used": "7",
    };
    const dialect = (h: Record<string, string>) => readRateLimitInfo(new Headers(h), NOW).dialect;
    expect(dialect(all)).toBe("draft-11");
    expect(dialect({ ...all, RateLimit: "limit=20, remaining=2, reset=1" })).toBe("draft-07");
    const { RateLimit: _, ...noRateLimit } = all;
    expect(dialect(noRateLimit)).toBe("draft-06");
    expect(dialect({ "X-RateLimit-Remaining": "3", "X-RateLimit-Used": "7" })).toBe("github");
    expect(dialect({ "X-RateLimit-Remaining": "3" })).toBe("x-ratelimit");
    expect(readRateLimitInfo(new Headers(all), NOW).limits).toHaveLength(1);
  });

  it("reads Retry-After alone as its own dialect, as delay-seconds or an HTTP-date", () => {
    expect(readRateLimitInfo(new Headers({ "Retry-After": "3" }), NOW)).toEqual({
      limits: [],
      retryAfterMs: 3000,
      dialect: "retry-after",
    });
    const date = new Date(NOW + 4000).toUTCString();
    expect(readRateLimitInfo(new Headers({ "Retry-After": date }), NOW).retryAfterMs).toBe(4000);
  });
});
