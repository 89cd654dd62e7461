/** @module Parsing Retry-After, X-RateLimit-* and the combined view the pacer reads: every form, and malformed input. */
import { describe, expect, it } from "vitest";
import { parseRetryAfter, parseXRateLimit, readRateLimitInfo } from "../../client/index.ts";

const NOW = Date.UTC(2025, 0, 1, 0, 0, 0);

describe("Retry-After", () => {
  it("reads delay-seconds as ms", () => {
    expect(parseRetryAfter("0", NOW)).toBe(0);
    expect(parseRetryAfter("1", NOW)).toBe(1000);
    expect(parseRetryAfter(" 120 ", NOW)).toBe(120_000);
  });

  it("reads an IMF-fixdate, RFC 850 and asctime HTTP-date relative to now", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:05 GMT", NOW)).toBe(5000);
    expect(parseRetryAfter("Wednesday, 01-Jan-25 00:01:00 GMT", NOW)).toBe(60_000);
    expect(parseRetryAfter("Wed Jan  1 00:00:02 2025", NOW)).toBe(2000);
  });

  it("treats a date in the past as no wait", () => {
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", NOW)).toBe(0);
  });

  it("ignores negative, fractional, huge and malformed values", () => {
    for (const value of [
      null,
      undefined,
      "",
      "-1",
      "1.5",
      "1e3",
      "0x10",
      "1234567890123456",
      "soon",
      "Wed, 99 Foo 2025 00:00:00 GMT",
      "2025-01-01T00:00:05Z",
    ]) {
      expect(parseRetryAfter(value, NOW)).toBeNull();
    }
  });
});

describe("X-RateLimit-*", () => {
  it("reads a Unix-seconds reset (this edge, GitHub, express-rate-limit) as a delay", () => {
    const headers = new Headers({
      "X-RateLimit-Limit": "10",
      "X-RateLimit-Remaining": "3",
      "X-RateLimit-Reset": String(NOW / 1000 + 7),
    });
    expect(parseXRateLimit(headers, NOW)).toEqual({
      limit: 10,
      remaining: 3,
      resetMs: 7000,
      used: null,
      resource: null,
    });
  });

  it("reads a small reset as delay-seconds, fractions included", () => {
    expect(
      parseXRateLimit(new Headers({ "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30" }), NOW),
    ).toEqual({
      limit: null,
      remaining: 0,
      resetMs: 30_000,
      used: null,
      resource: null,
    });
    expect(
      parseXRateLimit(new Headers({ "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1.25" }), NOW)
        ?.resetMs,
    ).toBe(1250);
  });

  it("clamps a reset time in the past to 0", () => {
    const headers = new Headers({
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": String(NOW / 1000 - 5),
    });
    expect(parseXRateLimit(headers, NOW)?.resetMs).toBe(0);
  });

  it("ignores bad fields and needs a valid Remaining", () => {
    expect(parseXRateLimit(new Headers({ "X-RateLimit-Limit": "10" }), NOW)).toBeNull();
    expect(parseXRateLimit(new Headers({ "X-RateLimit-Used": "10" }), NOW)).toBeNull();
    expect(parseXRateLimit(new Headers({ "X-RateLimit-Remaining": "-1" }), NOW)).toBeNull();
    expect(parseXRateLimit(new Headers({ "X-RateLimit-Remaining": "99999999999999999999" }), NOW)).toBeNull();
    const headers = new Headers({
      "X-RateLimit-Limit": "ten",
      "X-RateLimit-Remaining": "2",
      "X-RateLimit-Reset": "-4",
    });
    expect(parseXRateLimit(headers, NOW)).toEqual({
      limit: null,
      remaining: 2,
      resetMs: null,
      used: null,
      resource: null,
    });
  });
});

describe("readRateLimitInfo", () => {
  it("joins RateLimit with RateLimit-Policy by name (case-insensitively) and reads Retry-After", () => {
    const headers = new Headers({
      "RateLimit-Policy": '"Second";q=20;w=1, "day";q=10000;w=86400',
      RateLimit: 'second;r=0;t=1, "day";r=9000;t=8640',
      "X-RateLimit-Remaining": "0",
      "Retry-After": "1",
    });
    expect(readRateLimitInfo(headers, NOW)).toEqual({
      limits: [
        {
          key: "second\u0000",
          name: "second",
          remaining: 0,
          resetMs: 1000,
          quota: 20,
          windowMs: 1000,
          refill: null,
          source: "draft-11",
        },
        {
          key: "day\u0000",
          name: "day",
          remaining: 9000,
          resetMs: 8_640_000,
          quota: 10000,
          windowMs: 86_400_000,
          refill: null,
          source: "draft-11",
        },
      ],
      retryAfterMs: 1000,
      dialect: "draft-11",
    });
  });

  it("reads what this project's edge sends on a 429", () => {
    const headers = new Headers({
      "RateLimit-Policy": '"burst";q=10;w=2',
      RateLimit: '"burst";r=0;t=2',
      "X-RateLimit-Limit": "10",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": String(NOW / 1000 + 2),
      "Retry-After": "1",
    });
    expect(readRateLimitInfo(headers, NOW)).toEqual({
      limits: [
        {
          key: "burst\u0000",
          name: "burst",
          remaining: 0,
          resetMs: 2000,
          quota: 10,
          windowMs: 2000,
          refill: null,
          source: "draft-11",
        },
      ],
      retryAfterMs: 1000,
      dialect: "draft-11",
    });
  });

  it("falls back to X-RateLimit-* when no RateLimit item is usable", () => {
    const headers = new Headers({
      RateLimit: "garbage",
      "X-RateLimit-Limit": "60",
      "X-RateLimit-Remaining": "59",
      "X-RateLimit-Reset": "60",
    });
    expect(readRateLimitInfo(headers, NOW)).toEqual({
      limits: [
        {
          key: "x-ratelimit\u0000",
          name: "x-ratelimit",
          remaining: 59,
          resetMs: 60_000,
          quota: 60,
          windowMs: null,
          refill: null,
          source: "x-ratelimit",
        },
      ],
      retryAfterMs: null,
      dialect: "x-ratelimit",
    });
  });

  it("returns nothing usable for a response without rate-limit headers, or with only garbage", () => {
    expect(readRateLimitInfo(new Headers(), NOW)).toEqual({ limits: [], retryAfterMs: null, dialect: null });
    const junk = new Headers({
      RateLimit: ";;;",
      "RateLimit-Policy": "(",
      "X-RateLimit-Remaining": "x",
      "Retry-After": "later",
    });
    expect(readRateLimitInfo(junk, NOW)).toEqual({ limits: [], retryAfterMs: null, dialect: null });
  });

  it("keeps the first of duplicate items and leaves rate unknown without a matching policy", () => {
    const headers = new Headers({ RateLimit: '"a";r=1;t=5, "A";r=9;t=1', "RateLimit-Policy": '"b";q=3;w=1' });
    expect(readRateLimitInfo(headers, NOW).limits).toEqual([
      {
        key: "a\u0000",
        name: "a",
        remaining: 1,
        resetMs: 5000,
        quota: null,
        windowMs: null,
        refill: null,
        source: "draft-11",
      },
    ]);
  });
});
