/** @module parsePolicies: the default document, compiled and served as the worker would. */
import { describe, expect, it } from "vitest";
import type { LimitSpec } from "../../../lua";
import { DEFAULT_POLICIES, DEFAULT_POLICIES_JSON, type PoliciesDocument } from "../../../workers/policies";
import { compiled } from "./hints";

describe("parsePolicies: the default document", () => {
  const value = compiled(DEFAULT_POLICIES);

  it("compiles every limit to the LimitSpec the Lua script takes", () => {
    const specs: Record<string, LimitSpec[]> = Object.fromEntries(
      [...value.policies].map(([name, policy]) => [name, policy.limits]),
    );
    expect(specs).toEqual({
      default: [{ name: "burst", capacity: 10, refillTokens: 5, refillIntervalMs: 1000 }],
      api: [
        { name: "second", capacity: 20, refillTokens: 10, refillIntervalMs: 1000 },
        { name: "day", capacity: 10000, refillTokens: 10000, refillIntervalMs: 86_400_000 },
      ],
    });
  });

  it("fills in defaults for the prefix, fail mode, mode, timeout, cost, fallback and cors", () => {
    const { prefix, cors } = compiled({
      policies: DEFAULT_POLICIES.policies,
      routes: DEFAULT_POLICIES.routes,
    });
    expect({ prefix, cors }).toEqual({ prefix: "erl", cors: { origins: [] } });
    const def = value.policies.get("default");
    expect(def && { ...def, limits: undefined }).toEqual({
      name: "default",
      limits: undefined,
      onError: "open",
      mode: "enforce",
      timeoutMs: 1000,
      maxWaitMs: 5000,
      lease: "auto",
      localShare: undefined,
      clock: "store",
    });
    const api = value.policies.get("api");
    expect(api && [api.onError, api.mode, api.timeoutMs, api.maxWaitMs]).toEqual([
      "closed",
      "enforce",
      1000,
      5000,
    ]);
    const routes = value.routes.map(({ path, methods, policy, key, fallback, cost }) => ({
      path,
      methods,
      policy: policy.name,
      key,
      fallback,
      cost,
    }));
    expect(routes).toEqual([
      {
        path: "/api/*",
        methods: ["GET", "POST"],
        policy: "api",
        key: { kind: "header", name: "x-api-key" },
        fallback: null,
        cost: 1,
      },
      { path: "/*", methods: null, policy: "default", key: { kind: "ip" }, fallback: null, cost: 1 },
    ]);
  });

  it("routes point at the same policy objects as the map", () => {
    expect(value.routes[0]?.policy).toBe(value.policies.get("api"));
    expect(value.routes[1]?.policy).toBe(value.policies.get("default"));
  });

  it("parses the JSON text form to the same result", () => {
    const fromText = compiled(DEFAULT_POLICIES_JSON);
    expect(fromText.prefix).toBe("erl");
    expect([...fromText.policies]).toEqual([...value.policies]);
    expect(JSON.parse(DEFAULT_POLICIES_JSON)).toEqual(DEFAULT_POLICIES);
  });

  it("keeps explicit values over defaults", () => {
    const doc: PoliciesDocument = {
      prefix: "rl.v2",
      policies: {
        p: {
          limits: [{ name: "m", capacity: 3, refill: "3/2m" }],
          onError: "closed",
          mode: "shadow",
          timeoutMs: 10_000,
          lease: "off",
        },
      },
      routes: [{ path: "/x", policy: "p", key: "header:X-Client-ID", fallback: "ip", cost: 0 }],
      cors: { origins: ["https://app.example.com", "http://localhost:8080"] },
    };
    const out = compiled(doc);
    expect(out.prefix).toBe("rl.v2");
    expect(out.policies.get("p")).toEqual({
      name: "p",
      limits: [{ name: "m", capacity: 3, refillTokens: 3, refillIntervalMs: 120_000 }],
      onError: "closed",
      mode: "shadow",
      timeoutMs: 10_000,
      // Never below timeoutMs when left out.
      maxWaitMs: 10_000,
      lease: "off",
      localShare: undefined,
      clock: "store",
    });
    expect(out.routes[0]?.key).toEqual({ kind: "header", name: "x-client-id" });
    expect(out.routes[0]?.fallback).toEqual({ kind: "ip" });
    expect(out.routes[0]?.cost).toBe(0);
    expect(out.cors).toEqual({ origins: ["https://app.example.com", "http://localhost:8080"] });
  });

  it('normalises cors origins: "*" alone or in a list means every origin; duplicates collapse', () => {
    const withCors = (origins: unknown) => compiled({ ...DEFAULT_POLICIES, cors: { origins } }).cors;
    expect(withCors("*")).toEqual({ origins: "*" });
    expect(withCors(["*"])).toEqual({ origins: "*" });
    expect(withCors(["https://a.example", "https://a.example"])).toEqual({ origins: ["https://a.example"] });
    expect(withCors([])).toEqual({ origins: [] });
  });
});
