import { describe, expect, it } from "vitest";
import { parseRefill } from "../../../workers/policies";
import { REFILL_HINT } from "./hints";

describe("parseRefill", () => {
  it.each([
    ["5/s", 5, 1000],
    ["10000/d", 10000, 86_400_000],
    ["5/10s", 5, 10_000],
    ["100/500ms", 100, 500],
    ["3/2m", 3, 120_000],
    ["1/h", 1, 3_600_000],
    ["1/1ms", 1, 1],
    ["1000000000/s", 1_000_000_000, 1000],
  ])("%s → %d tokens per %d ms", (text, tokens, intervalMs) => {
    expect(parseRefill(text)).toEqual({ ok: true, value: { tokens, intervalMs } });
  });

  it.each(["10/fortnight", "5", "5/", "/s", "-1/s", "5/s ", " 5/s", "5/S", "1.5/s", "5/1.5s", "5/-1s", ""])(
    "rejects %j",
    (text) => {
      expect(parseRefill(text)).toEqual({ ok: false, error: `${JSON.stringify(text)} ${REFILL_HINT}` });
    },
  );

  it("rejects zero tokens, too many tokens and zero-length periods with their own reasons", () => {
    expect(parseRefill("0/s")).toEqual({
      ok: false,
      error: '"0/s" has 0 tokens per period (expected 1 to 1000000000)',
    });
    expect(parseRefill("1000000001/s")).toEqual({
      ok: false,
      error: '"1000000001/s" has 1000000001 tokens per period (expected 1 to 1000000000)',
    });
    expect(parseRefill("5/0s")).toEqual({
      ok: false,
      error: '"5/0s" has a zero-length period (the count before the unit must be at least 1)',
    });
    expect(parseRefill("1/99999999999999999d")).toEqual({
      ok: false,
      error:
        '"1/99999999999999999d" has a period too long to count in milliseconds (max 9007199254740991 ms)',
    });
  });
});
