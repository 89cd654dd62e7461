import { describe, expect, it } from "vitest";
import {
  type CompiledPolicies,
  DEFAULT_POLICIES,
  matchRoute,
  normalizePathname,
  parsePolicies,
  pathPattern,
} from "../../../workers/policies";

function compiled(input: unknown): CompiledPolicies {
  const result = parsePolicies(input);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe("route matching", () => {
  const value = compiled(DEFAULT_POLICIES);
  const policyFor = (method: string, path: string) => matchRoute(value, method, path)?.policy.name ?? null;

  it("takes the first matching route in document order, honouring methods", () => {
    expect(policyFor("GET", "/api/keys")).toBe("api");
    expect(policyFor("POST", "/api/x/y/z")).toBe("api");
    expect(policyFor("GET", "/api/")).toBe("api");
    expect(policyFor("GET", "/api")).toBe("api");
    expect(policyFor("DELETE", "/api/keys")).toBe("default");
    expect(policyFor("GET", "/apix")).toBe("default");
    expect(policyFor("GET", "/")).toBe("default");
    expect(policyFor("PUT", "/anything/at/all")).toBe("default");
  });

  it("lets HEAD follow GET and compares methods case-insensitively", () => {
    expect(policyFor("HEAD", "/api/keys")).toBe("api");
    expect(policyFor("post", "/api/keys")).toBe("api");
    const headOnly = compiled({
      policies: DEFAULT_POLICIES.policies,
      routes: [{ path: "/*", methods: ["POST"], policy: "api", key: "ip" }],
    });
    expect(matchRoute(headOnly, "HEAD", "/x")).toBeNull();
  });

  it("returns null when no route matches", () => {
    const narrow = compiled({
      policies: DEFAULT_POLICIES.policies,
      routes: [{ path: "/login", methods: ["POST"], policy: "default", key: "ip" }],
    });
    expect(matchRoute(narrow, "POST", "/login")?.path).toBe("/login");
    expect(matchRoute(narrow, "POST", "/login/")).toBeNull();
    expect(matchRoute(narrow, "GET", "/login")).toBeNull();
    expect(matchRoute(narrow, "POST", "/other")).toBeNull();
  });

  it("treats * anywhere as any characters and everything else literally", () => {
    expect(pathPattern("/users/*/avatar").test("/users/42/avatar")).toBe(true);
    expect(pathPattern("/users/*/avatar").test("/users/a/b/avatar")).toBe(true);
    expect(pathPattern("/users/*/avatar").test("/users/42/avatar.png")).toBe(false);
    expect(pathPattern("/v1.0/*").test("/v1x0/a")).toBe(false);
    expect(pathPattern("/files/*.json").test("/files/a/b.json")).toBe(true);
    expect(pathPattern("/*").test("/")).toBe(true);
  });

  it("matches equivalent spellings of a path: unreserved escapes decoded, repeated slashes merged", () => {
    expect(normalizePathname("//%61pi///keys")).toBe("/api/keys");
    expect(normalizePathname("/a%2Fb/%7e%2D%5F%2E")).toBe("/a%2Fb/~-_.");
    expect(policyFor("GET", "/%61pi/keys")).toBe("api");
    expect(policyFor("GET", "//api/keys")).toBe("api");
  });
});
