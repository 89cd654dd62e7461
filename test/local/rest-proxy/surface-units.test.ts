/** @module Unit tests of the REST surface's pure parts: path-style parsing, tokens, read-only policy, SSE frames. */
import { describe, expect, it } from "vitest";
import {
  checkReadOnly,
  createAccessCheck,
  parsePathCommand,
  queryToken,
  sseFrame,
} from "../../../local/rest-proxy";

const cmd = (name: string, ...args: string[]) => ({ name: name.toUpperCase(), spelled: name, args });

describe("parsePathCommand", () => {
  it("splits segments, decodes each, appends the body, then query options except _token", () => {
    expect(parsePathCommand("/set/a%2Fb/%E2%9C%93", "_token=t&EX=10&NX&keepttl=", Buffer.from("v"))).toEqual({
      ok: true,
      value: cmd("set", "a/b", "✓", "v", "EX", "10", "NX", "keepttl"),
    });
    expect(parsePathCommand("/get/a+b", "x=a+b%2B", null)).toEqual({
      ok: true,
      value: cmd("get", "a+b", "x", "a b+"),
    });
    expect(parsePathCommand("/set/k/", "", Buffer.alloc(0))).toEqual({
      ok: true,
      value: cmd("set", "k", ""),
    });
  });

  it("refuses an empty name and text that is not UTF-8", () => {
    expect(parsePathCommand("/", "", null)).toEqual({
      ok: false,
      error: "ERR proxy: empty command name in the path",
    });
    expect(parsePathCommand("/get/%C3", "", null).ok).toBe(false);
    expect(parsePathCommand("/set/k", "", Buffer.from([0xc3, 0x28])).ok).toBe(false);
  });
});

describe("tokens", () => {
  it("reads _token from the query, URL-decoded", () => {
    expect(queryToken("/get/k?a=1&_token=s%2Fx")).toBe("s/x");
    expect(queryToken("/get/k?x_token=s")).toBeNull();
    expect(queryToken("/get/k")).toBeNull();
  });

  it("gives full, read or no access; a header (even a wrong one) decides over _token", () => {
    const access = createAccessCheck({ token: "rw", readOnlyToken: "ro" });
    expect(access("Bearer rw", "/")).toBe("full");
    expect(access("Bearer ro", "/")).toBe("read");
    expect(access(undefined, "/?_token=ro")).toBe("read");
    expect(access("", "/?_token=rw")).toBe("full");
    expect(access("Bearer nope", "/?_token=rw")).toBeNull();
    expect(access("rw", "/")).toBeNull();
    expect(access(undefined, "/")).toBeNull();
    const noReadOnly = createAccessCheck({ token: "rw", readOnlyToken: null });
    expect(noReadOnly("Bearer ", "/")).toBeNull();
    expect(createAccessCheck({ token: null, readOnlyToken: null })(undefined, "/")).toBe("full");
  });

  it("lets the read-only token run only commands Redis flags readonly", () => {
    for (const name of ["get", "MGET", "scan", "eval_ro", "evalsha_ro", "fcall_ro", "sort_ro", "xrange"]) {
      expect(checkReadOnly(cmd(name)).ok, name).toBe(true);
    }
    for (const name of ["set", "eval", "evalsha", "sort", "publish", "ping", "constructor", "json.get"]) {
      expect(checkReadOnly(cmd(name)).ok, name).toBe(false);
    }
  });
});

describe("sseFrame", () => {
  it("joins fields with commas and turns every line break into a new data line", () => {
    expect(sseFrame(["subscribe", "c", 1])).toBe("data: subscribe,c,1\n\n");
    expect(sseFrame(["message", Buffer.from("c"), Buffer.from("a\r\nb\rc\nd")])).toBe(
      "data: message,c,a\ndata: b\ndata: c\ndata: d\n\n",
    );
  });
});
