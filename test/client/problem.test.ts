/** @module The client against draft -11 problem+json 429s that name the violated policies. */
import { describe, expect, it } from "vitest";
import { createBackoffFetch, type ThrottleEvent } from "../../client/index.ts";
import { fakeServer, URL_A } from "./fake-server";

describe("problem+json answers (draft -11 violated-policies)", () => {
  const problemBody = (names: unknown) =>
    JSON.stringify({
      type: "https://iana.org/assignments/http-problem-types#quota-exceeded",
      title: "Quota Exceeded",
      status: 429,
      "violated-policies": names,
    });
  const first = { "RateLimit-Policy": '"burst";q=10;w=2', RateLimit: '"burst";r=5;t=1' };

  it("empties a named limit the headers left out, and paces the next request for it", async () => {
    const server = fakeServer({
      capacity: 10,
      perSecond: 5,
      respond: (n) =>
        n === 0
          ? { status: 200, headers: first }
          : n === 1
            ? {
                status: 429,
                headers: { "Content-Type": "application/problem+json" },
                body: problemBody(["Burst"]),
              }
            : null,
    });
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, retries: 0, onThrottle: (e) => events.push(e) });
    expect((await client(URL_A)).status).toBe(200);
    const denied = await client(URL_A);
    expect(denied.status).toBe(429);
    // The client read a copy: the caller's body is whole.
    expect(JSON.parse(await denied.text())["violated-policies"]).toEqual(["Burst"]);
    expect((await client(URL_A)).status).toBe(200);
    expect(events).toEqual([
      expect.objectContaining({ reason: "paced", policy: "burst", violatedPolicies: [] }),
    ]);
  });

  it("trusts the headers for a limit they describe, and ignores bodies that are not problem+json", async () => {
    for (const answer of [
      {
        status: 429,
        headers: { ...first, "Content-Type": "application/problem+json" },
        body: problemBody(["burst"]),
      },
      { status: 429, headers: { "Content-Type": "application/json" }, body: problemBody(["burst"]) },
      { status: 429, headers: { "Content-Type": "application/problem+json" }, body: problemBody("burst") },
      { status: 429, headers: { "Content-Type": "application/problem+json" }, body: "{not json" },
    ]) {
      const server = fakeServer({
        capacity: 10,
        perSecond: 5,
        respond: (n) => (n === 0 ? { status: 200, headers: first } : n === 1 ? answer : null),
      });
      const events: ThrottleEvent[] = [];
      const client = createBackoffFetch({
        fetch: server.fetch,
        retries: 0,
        onThrottle: (e) => events.push(e),
      });
      await client(URL_A);
      expect((await client(URL_A)).status).toBe(429);
      expect((await client(URL_A)).status).toBe(200);
      expect(events).toEqual([]);
    }
  });

  it("names the violated policies while a Retry-After holds the scope", async () => {
    const server = fakeServer({
      capacity: 10,
      perSecond: 5,
      respond: (n) =>
        n === 0
          ? {
              status: 429,
              headers: { "Retry-After": "1", "Content-Type": "application/problem+json; charset=utf-8" },
              body: problemBody(["day", "burst"]),
            }
          : { status: 200, headers: {} as Record<string, string> },
    });
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, retries: 0, onThrottle: (e) => events.push(e) });
    expect((await client(URL_A)).status).toBe(429);
    expect((await client(URL_A)).status).toBe(200);
    expect(events).toEqual([
      expect.objectContaining({ reason: "retry-after", policy: null, violatedPolicies: ["day", "burst"] }),
    ]);
  });
});
