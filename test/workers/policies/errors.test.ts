/** @module parsePolicies refuses a bad document with an error naming the field, the value and the reason. */
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICIES, parsePolicies } from "../../../workers/policies";
import { compiled, errorOf, KEY_HINT, NAME_HINT, parseEdited, REFILL_HINT } from "./hints";

describe("parsePolicies: errors name the field, the value and the reason", () => {
  it("bad refill", () => {
    expect(errorOf(parseEdited((d) => (d.policies.api.limits[1].refill = "10/fortnight")))).toBe(
      `policies.api.limits[1].refill: "10/fortnight" ${REFILL_HINT}`,
    );
    expect(errorOf(parseEdited((d) => (d.policies.default.limits[0].refill = 5)))).toBe(
      `policies.default.limits[0].refill: 5 ${REFILL_HINT}`,
    );
    expect(errorOf(parseEdited((d) => (d.policies.default.limits[0].refill = "0/s")))).toBe(
      'policies.default.limits[0].refill: "0/s" has 0 tokens per period (expected 1 to 1000000000)',
    );
  });

  it("unknown policy in a route", () => {
    expect(errorOf(parseEdited((d) => (d.routes[1].policy = "apii")))).toBe(
      'routes[1].policy: "apii" is not a defined policy (defined: "default", "api")',
    );
    // Names inherited from Object.prototype are not policies.
    expect(errorOf(parseEdited((d) => (d.routes[0].policy = "toString")))).toBe(
      'routes[0].policy: "toString" is not a defined policy (defined: "default", "api")',
    );
  });

  it("duplicate limit names", () => {
    expect(errorOf(parseEdited((d) => (d.policies.api.limits[1].name = "second")))).toBe(
      'policies.api.limits[1].name: "second" is also the name of limits[0] (limit names must be unique within a policy)',
    );
  });

  it.each([
    [0, "0"],
    [1.5, "1.5"],
    [1_000_000_001, "1000000001"],
    [-1, "-1"],
    ["10", '"10"'],
  ])("capacity %j", (capacity, shown) => {
    expect(errorOf(parseEdited((d) => (d.policies.default.limits[0].capacity = capacity)))).toBe(
      `policies.default.limits[0].capacity: ${shown} is not an integer from 1 to 1000000000`,
    );
  });

  it("capacity × refill interval beyond Number.MAX_SAFE_INTEGER", () => {
    expect(errorOf(parseEdited((d) => (d.policies.api.limits[1].capacity = 1_000_000_000)))).toBe(
      "policies.api.limits[1].capacity: 1000000000 × refill interval 86400000 ms exceeds Number.MAX_SAFE_INTEGER " +
        "(9007199254740991): the Lua script stores tokens scaled by the interval as exact integers; " +
        "lower the capacity or shorten the refill period",
    );
    // 104249991 × 86400000 = 9007199222400000 fits; one more does not.
    expect(parseEdited((d) => (d.policies.api.limits[1].capacity = 104_249_991)).ok).toBe(true);
    expect(parseEdited((d) => (d.policies.api.limits[1].capacity = 104_249_992)).ok).toBe(false);
  });

  it("unknown fields, at every level", () => {
    expect(
      errorOf(
        parseEdited((d) => {
          d.polices = {};
          d.policies.api.onErorr = "open";
          d.policies.api.limits[0].burst = 5;
          d.routes[0].methdos = ["GET"];
        }),
      ),
    ).toBe(
      [
        "policies.api.limits[0].burst: unknown field (expected one of: name, capacity, refill)",
        "policies.api.onErorr: unknown field (expected one of: limits, onError, localShare, clock, mode, timeoutMs, maxWaitMs, lease)",
        "routes[0].methdos: unknown field (expected one of: path, methods, policy, key, fallback, cost)",
        "polices: unknown field (expected one of: prefix, policies, routes, cors)",
      ].join("; "),
    );
    expect(errorOf(parseEdited((d) => (d.cors = { origin: "*" })))).toBe(
      "cors.origins: required field is missing; cors.origin: unknown field (expected one of: origins)",
    );
  });

  it("bad key syntax", () => {
    expect(
      errorOf(
        parseEdited((d) => {
          d.routes[0].key = "header:";
          d.routes[0].fallback = "cookie:session";
          d.routes[1].key = "header:x api key";
        }),
      ),
    ).toBe(
      [
        `routes[0].key: "header:" ${KEY_HINT}`,
        `routes[0].fallback: "cookie:session" ${KEY_HINT}`,
        `routes[1].key: "header:x api key" ${KEY_HINT}`,
      ].join("; "),
    );
    expect(errorOf(parseEdited((d) => (d.routes[1].key = "IP")))).toBe(`routes[1].key: "IP" ${KEY_HINT}`);
  });

  it("bad JSON text", () => {
    expect(errorOf(parsePolicies('{"policies": }'))).toMatch(/^policies document is not valid JSON: \S/);
    expect(errorOf(parsePolicies("{bad"))).toBe(`policies document is not valid JSON: ${jsonError("{bad")}`);
    expect(errorOf(parsePolicies(""))).toBe(`policies document is not valid JSON: ${jsonError("")}`);
  });

  it("bad prefix and policy names", () => {
    expect(errorOf(parseEdited((d) => (d.prefix = "erl:v2")))).toBe(`prefix: "erl:v2" ${NAME_HINT}`);
    expect(errorOf(parseEdited((d) => (d.prefix = "")))).toBe(`prefix: "" ${NAME_HINT}`);
    expect(errorOf(parseEdited((d) => (d.prefix = "x".repeat(65))))).toBe(
      `prefix: "${"x".repeat(65)}" ${NAME_HINT}`,
    );
    expect(errorOf(parseEdited((d) => (d.policies["bad name"] = d.policies.api)))).toBe(
      `policies["bad name"]: name "bad name" ${NAME_HINT}`,
    );
    expect(errorOf(parseEdited((d) => (d.policies.api.limits[0].name = "per second")))).toBe(
      `policies.api.limits[0].name: "per second" ${NAME_HINT}`,
    );
  });

  it("missing fields, wrong types and the wrong number of limits", () => {
    expect(errorOf(parsePolicies({ routes: [] }))).toBe("policies: required field is missing");
    expect(errorOf(parsePolicies(5))).toBe("document: 5 is not an object");
    expect(errorOf(parsePolicies("[]"))).toBe("document: [] is not an object");
    expect(errorOf(parseEdited((d) => delete d.routes[1].key))).toBe(
      "routes[1].key: required field is missing",
    );
    expect(errorOf(parseEdited((d) => (d.policies = {})))).toBe(
      "policies: {} must define at least one policy",
    );
    expect(errorOf(parseEdited((d) => (d.policies.api.limits = [])))).toBe(
      "policies.api.limits: [] must list 1 to 8 limits",
    );
    const nine = Array.from({ length: 9 }, (_, i) => ({ name: `l${i}`, capacity: 1, refill: "1/s" }));
    expect(errorOf(parseEdited((d) => (d.policies.api.limits = nine)))).toBe(
      "policies.api.limits: an array of 9 entries must list 1 to 8 limits",
    );
    expect(errorOf(parseEdited((d) => (d.routes = { path: "/" })))).toBe(
      'routes: {"path":"/"} is not a list of routes',
    );
  });

  it("a ceiling on waiting below the silence that counts as unavailable", () => {
    expect(
      errorOf(
        parseEdited((d) => {
          d.policies.api.timeoutMs = 2000;
          d.policies.api.maxWaitMs = 1500;
        }),
      ),
    ).toBe(
      "policies.api.maxWaitMs: 1500 is less than timeoutMs (2000): the ceiling on a busy store's wait must be at least the silence that counts as unavailable",
    );
  });

  it("bad policy options", () => {
    expect(
      errorOf(
        parseEdited((d) => {
          d.policies.api.onError = "opne";
          d.policies.api.mode = "dry-run";
          d.policies.api.lease = "always";
          d.policies.api.timeoutMs = 0;
          d.policies.default.timeoutMs = 10_001;
          d.policies.default.maxWaitMs = 60_001;
        }),
      ),
    ).toBe(
      [
        "policies.default.timeoutMs: 10001 is not an integer from 1 to 10000",
        "policies.default.maxWaitMs: 60001 is not an integer from 1 to 60000",
        'policies.api.onError: "opne" is not "open", "closed" or "local"',
        'policies.api.mode: "dry-run" is not "enforce" or "shadow"',
        "policies.api.timeoutMs: 0 is not an integer from 1 to 10000",
        'policies.api.lease: "always" is not "auto" or "off"',
      ].join("; "),
    );
  });

  it('onError "local" with its localShare (fraction or tokens), and the clock', () => {
    const parsed = compiled({
      policies: {
        a: { limits: [{ name: "b", capacity: 10, refill: "1/s" }], onError: "local", localShare: 0.25 },
        b: {
          limits: [{ name: "b", capacity: 10, refill: "1/s" }],
          onError: "local",
          localShare: { tokens: 3 },
        },
        c: { limits: [{ name: "b", capacity: 10, refill: "1/s" }], clock: "caller" },
      },
      routes: [],
    });
    expect(parsed.policies.get("a")?.localShare).toEqual({ kind: "fraction", fraction: 0.25 });
    expect(parsed.policies.get("b")?.localShare).toEqual({ kind: "tokens", tokens: 3 });
    expect(parsed.policies.get("c")?.clock).toBe("caller");
    expect(
      errorOf(
        parseEdited((d) => {
          d.policies.api.onError = "local";
          d.policies.default.localShare = 0.5;
        }),
      ),
    ).toBe(
      [
        'policies.default.localShare: 0.5 applies only with onError "local" (onError is "open")',
        'policies.api.onError: "local" needs "localShare" (e.g. 0.1, or {"tokens": 5}): what each isolate may admit alone while the store is unavailable',
      ].join("; "),
    );
    expect(
      errorOf(
        parseEdited((d) => {
          d.policies.api.onError = "local";
          d.policies.api.localShare = 1.5;
          d.policies.default.clock = "client";
        }),
      ),
    ).toMatch(
      /policies\.default\.clock: "client" is not "store" or "caller".*policies\.api\.localShare: 1\.5 is not a local share/,
    );
  });

  it("bad routes: path, methods, cost", () => {
    expect(
      errorOf(
        parseEdited((d) => {
          d.routes[0].path = "api/*";
          d.routes[0].methods = ["get", "POST"];
          d.routes[0].cost = -1;
          d.routes[1].methods = [];
          d.routes[1].cost = 1_000_001;
        }),
      ),
    ).toBe(
      [
        'routes[0].path: "api/*" is not a route path (expected "/" followed by the path, "*" matching any characters, e.g. "/api/*"; no spaces, query or fragment)',
        'routes[0].methods[0]: "get" is not an uppercase HTTP method (e.g. "GET")',
        "routes[0].cost: -1 is not an integer from 0 to 1000000",
        "routes[1].methods: [] must list at least one method (omit the field to match every method)",
        "routes[1].cost: 1000001 is not an integer from 0 to 1000000",
      ].join("; "),
    );
    expect(errorOf(parseEdited((d) => (d.routes[1].path = "/search?q=*")))).toMatch(
      /^routes\[1\]\.path: "\/search\?q=\*" is not a route path/,
    );
  });

  it("bad cors origins", () => {
    const withCors = (origins: unknown) => errorOf(parsePolicies({ ...DEFAULT_POLICIES, cors: { origins } }));
    const hint =
      'is not an origin (expected "*" or "<scheme>://<host>[:<port>]" in lowercase with no path, e.g. "https://app.example.com")';
    expect(withCors(["https://app.example.com/", "https://App.example.com", 5])).toBe(
      [
        `cors.origins[0]: "https://app.example.com/" ${hint}`,
        `cors.origins[1]: "https://App.example.com" ${hint}`,
        `cors.origins[2]: 5 ${hint}`,
      ].join("; "),
    );
    expect(withCors("https://app.example.com")).toBe(
      'cors.origins: "https://app.example.com" is not "*" or a list of origins',
    );
    expect(withCors(["*", "https://app.example.com"])).toBe(
      'cors.origins: ["*","https://app.example.com"] mixes "*" with other origins (use "*" alone to allow every origin)',
    );
  });

  it("shortens long values in messages", () => {
    const long = `${"9".repeat(100)}/s`;
    expect(errorOf(parseEdited((d) => (d.policies.default.limits[0].refill = long)))).toBe(
      `policies.default.limits[0].refill: "${"9".repeat(70)}"… (102 characters) has too many tokens per period (expected 1 to 1000000000)`,
    );
    expect(errorOf(parseEdited((d) => (d.policies.default.limits[0].refill = "x".repeat(100))))).toBe(
      `policies.default.limits[0].refill: "${"x".repeat(70)}"… (100 characters) ${REFILL_HINT}`,
    );
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected invalid JSON");
}
