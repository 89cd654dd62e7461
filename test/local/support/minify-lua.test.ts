/** @module The Lua as shipped: comments and layout gone, strings and meaning kept. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { minifyLua } from "../../../local/support/lua-loader/minify.mjs";
import { TOKEN_BUCKET_LUA } from "../../../lua";

describe("minifyLua", () => {
  it("drops comments, indentation, blank lines and spaces next to punctuation, and keeps what is quoted", () => {
    const source = [
      "-- doc line",
      "local a = 1 -- why",
      "",
      "  local s = \"x -- not a comment\" .. 'y -- nor this'",
      '  local e = "say \\"--\\" twice" -- a comment after an escaped quote',
      "return a",
    ].join("\n");
    expect(minifyLua(source)).toBe(
      [
        "local a=1",
        "local s=\"x -- not a comment\" .. 'y -- nor this'",
        'local e="say \\"--\\" twice"',
        "return a",
      ].join("\n"),
    );
  });

  it("keeps a #!lua flags line first, as Redis and Upstash read it", () => {
    expect(minifyLua("#!lua flags=no-writes\n-- doc\n  return  a - -1 .. x\n")).toBe(
      "#!lua flags=no-writes\nreturn a - -1 .. x",
    );
  });

  it("refuses what it does not parse instead of guessing", () => {
    expect(() => minifyLua("local s = [[long]]")).toThrow(
      "minifyLua: long brackets on line 1 are not supported",
    );
    expect(() => minifyLua('x = 1\nlocal s = "open')).toThrow("minifyLua: unterminated string on line 2");
  });

  it("is the text the limiter imports, about half the file", () => {
    const file = readFileSync(new URL("../../../lua/token_bucket.lua", import.meta.url), "utf8");
    expect(TOKEN_BUCKET_LUA).toBe(minifyLua(file));
    expect(TOKEN_BUCKET_LUA.length).toBeLessThan(file.length * 0.6);
  });
});
