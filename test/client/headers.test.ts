/** @module Parsing the IETF RateLimit and RateLimit-Policy fields (draft -10 and later): every form, and malformed input. */
import { describe, expect, it } from "vitest";
import { parseRateLimit, parseRateLimitPolicy } from "../../client/index.ts";
import { parseList } from "../../client/structured-fields.ts";

describe("RateLimit-Policy", () => {
  it("reads one draft -10 item", () => {
    expect(parseRateLimitPolicy('"burst";q=10;w=2')).toEqual([
      { name: "burst", quota: 10, windowSeconds: 2, partitionKey: null, refill: null },
    ]);
  });

  it("reads several items, with or without spaces, tokens or strings, a partition key and unknown params", () => {
    expect(
      parseRateLimitPolicy(
        '"second";q=20;w=1, day;q=10000;w=86400;qu="requests","peruser";q=5;w=60;pk=:cHNk:',
      ),
    ).toEqual([
      { name: "second", quota: 20, windowSeconds: 1, partitionKey: null, refill: null },
      { name: "day", quota: 10000, windowSeconds: 86400, partitionKey: null, refill: null },
      { name: "peruser", quota: 5, windowSeconds: 60, partitionKey: "cHNk", refill: null },
    ]);
  });

  it("keeps a policy without a window, and drops a bad window to null", () => {
    expect(parseRateLimitPolicy('"a";q=5, "b";q=5;w=0, "c";q=5;w=-3, "d";q=5;w=1.5, "e";q=5;w="2"')).toEqual(
      ["a", "b", "c", "d", "e"].map((name) => ({
        name,
        quota: 5,
        windowSeconds: null,
        partitionKey: null,
        refill: null,
      })),
    );
  });

  it("drops items without a usable quota and keeps the good ones", () => {
    expect(
      parseRateLimitPolicy(
        '"neg";q=-1;w=2, "dec";q=1.5;w=2, "none";w=2, 7;q=1, "huge";q=1234567890123456, "ok";q=3;w=1',
      ),
    ).toEqual([{ name: "ok", quota: 3, windowSeconds: 1, partitionKey: null, refill: null }]);
  });

  it("returns nothing for missing, empty or garbage values", () => {
    for (const value of [null, undefined, "", "   ", ",,,", "(a b);q=1", '"unterminated;q=1', "%%%"]) {
      expect(parseRateLimitPolicy(value)).toEqual([]);
    }
  });
});

describe("RateLimit", () => {
  it("reads one draft -10 item", () => {
    expect(parseRateLimit('"burst";r=3;t=1')).toEqual([
      { name: "burst", remaining: 3, resetSeconds: 1, partitionKey: null },
    ]);
  });

  it("reads several items", () => {
    expect(parseRateLimit('"second";r=19;t=1, "day";r=9999;t=9')).toEqual([
      { name: "second", remaining: 19, resetSeconds: 1, partitionKey: null },
      { name: "day", remaining: 9999, resetSeconds: 9, partitionKey: null },
    ]);
  });

  it("reads the later draft's names: remaining under a, window under w, token policy names", () => {
    expect(parseRateLimit('default;a=50;w=30, "api";a=99;w=60;pk=:R0VUH2FsaWNl:;c=1')).toEqual([
      { name: "default", remaining: 50, resetSeconds: 30, partitionKey: null },
      { name: "api", remaining: 99, resetSeconds: 60, partitionKey: "R0VUH2FsaWNl" },
    ]);
  });

  it("prefers r and t when an item carries both spellings", () => {
    expect(parseRateLimit('"x";r=1;a=7;t=2;w=9')).toEqual([
      { name: "x", remaining: 1, resetSeconds: 2, partitionKey: null },
    ]);
  });

  it("keeps an item without a window (resetSeconds null) and ignores a negative or fractional one", () => {
    expect(parseRateLimit('"a";r=5, "b";r=5;t=-1, "c";r=5;t=0.5')).toEqual(
      ["a", "b", "c"].map((name) => ({ name, remaining: 5, resetSeconds: null, partitionKey: null })),
    );
  });

  it("accepts zero and the largest RFC 8941 integer, and drops anything larger", () => {
    expect(
      parseRateLimit('"z";r=0;t=0, "max";r=999999999999999;t=999999999999999, "over";r=1000000000000000'),
    ).toEqual([
      { name: "z", remaining: 0, resetSeconds: 0, partitionKey: null },
      { name: "max", remaining: 999999999999999, resetSeconds: 999999999999999, partitionKey: null },
    ]);
  });

  it("drops malformed items without losing the well-formed ones around them", () => {
    expect(
      parseRateLimit('"neg";r=-3;t=1, "str";r="3", ;r=1, "ok";r=2;t=1, "x" junk;r=1, "bad\\q";r=1, "";r=4'),
    ).toEqual([
      { name: "ok", remaining: 2, resetSeconds: 1, partitionKey: null },
      { name: "", remaining: 4, resetSeconds: null, partitionKey: null },
    ]);
  });

  it("keeps commas inside quoted names from splitting items", () => {
    expect(parseRateLimit('"a,b";r=1;t=1, "bad, name";r=-1, "c";r=2')).toEqual([
      { name: "a,b", remaining: 1, resetSeconds: 1, partitionKey: null },
      { name: "c", remaining: 2, resetSeconds: null, partitionKey: null },
    ]);
  });

  it("returns nothing for missing or garbage values", () => {
    for (const value of [null, undefined, "", "r=3", "burst", "3;r=1", "\u00e9;r=1"]) {
      expect(parseRateLimit(value)).toEqual([]);
    }
  });
});

describe("structured fields list", () => {
  it("parses every bare item type the drafts can use", () => {
    const [item] = parseList('tok;i=-5;d=1.25;s="q\\"x";b=?0;t;y=:AQID:');
    expect(item?.value).toEqual({ type: "token", value: "tok" });
    expect(Object.fromEntries(item?.params ?? [])).toEqual({
      i: { type: "integer", value: -5 },
      d: { type: "decimal", value: 1.25 },
      s: { type: "string", value: 'q"x' },
      b: { type: "boolean", value: false },
      t: { type: "boolean", value: true },
      y: { type: "bytes", value: "AQID" },
    });
  });

  it("lets a later duplicate parameter win", () => {
    expect(parseRateLimit('"a";r=1;r=4')).toEqual([
      { name: "a", remaining: 4, resetSeconds: null, partitionKey: null },
    ]);
  });
});
