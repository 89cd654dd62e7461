/** @module The client's behaviour against an in-process token bucket: probing, pacing, retries, budgets, aborts. */
import { describe, expect, it } from "vitest";
import { createBackoffFetch, type ThrottleEvent } from "../../client/index.ts";

import { fakeServer, URL_A } from "./fake-server";

describe("first contact", () => {
  it("sends one request, holds the rest of the burst until its answer, then sends what the headers allow", async () => {
    const server = fakeServer({ capacity: 5, perSecond: 50, latencyMs: 20 });
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, onThrottle: (e) => events.push(e) });
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client(`${URL_A}/${i}`).then((r) => r.status)),
    );
    expect(statuses).toEqual(Array(8).fill(200));
    expect(server.sent.every((s) => s.status === 200)).toBe(true);
    // The probe went alone: nothing else was sent before its answer (20 ms later).
    const [probe, second] = server.sent;
    expect((second?.at ?? 0) - (probe?.at ?? 0)).toBeGreaterThanOrEqual(15);
    expect(events.filter((e) => e.reason === "first-contact")).toHaveLength(7);
    expect(events[0]).toMatchObject({
      scope: "https://api.example",
      violatedPolicies: [],
      policy: null,
      waitMs: null,
      method: "GET",
      attempt: 0,
    });
  });

  it("lets the next request probe when the first one fails, and reports the failure to its caller", async () => {
    const server = fakeServer({
      capacity: 5,
      perSecond: 10,
      respond: (n) => (n === 0 ? "network-error" : null),
    });
    const client = createBackoffFetch({ fetch: server.fetch });
    const results = await Promise.allSettled([client(URL_A), client(URL_A), client(URL_A)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect(server.sent.map((s) => s.status)).toEqual([0, 200, 200]);
  });

  it("grows the flow like slow start once the origin answers without rate-limit headers", async () => {
    const server = fakeServer({ capacity: 1, perSecond: 1, respond: () => ({ status: 200, headers: {} }) });
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, onThrottle: (e) => events.push(e) });
    await Promise.all(Array.from({ length: 7 }, () => client(URL_A)));
    expect(server.sent.map((s) => s.status)).toEqual(Array(7).fill(200));
    // The probe alone, then one more in flight per 2xx: 1, 2, 4 — never all six held ones at once.
    expect(server.maxInflight()).toBe(4);
    expect(events.filter((e) => e.reason === "flow").length).toBeGreaterThan(0);
    expect(events.find((e) => e.reason === "flow")).toMatchObject({
      dialect: null,
      pacing: "flow",
      waitMs: null,
    });
  });
});

describe("pacing", () => {
  it("never oversends a concurrent burst and spaces requests by the refill rate", async () => {
    const server = fakeServer({ capacity: 20, perSecond: 20 });
    const client = createBackoffFetch({ fetch: server.fetch });
    const started = performance.now();
    await Promise.all(Array.from({ length: 30 }, () => client(URL_A)));
    const ms = performance.now() - started;
    expect(server.sent.map((s) => s.status)).toEqual(Array(30).fill(200));
    // 20 at once, then 10 at 50 ms each.
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(700);
  });

  it("paces no faster than q/w when whole-second windows understate the refill: slower, never a 429", async () => {
    // 3 tokens at 20/s is advertised as q=3;w=1 (the window rounds up), i.e. 3/s.
    const server = fakeServer({ capacity: 3, perSecond: 20 });
    const client = createBackoffFetch({ fetch: server.fetch });
    const started = performance.now();
    await Promise.all(Array.from({ length: 9 }, () => client(URL_A)));
    expect(server.sent.map((s) => s.status)).toEqual(Array(9).fill(200));
    // At 20/s it could take 300 ms; at 3/s it would take 2 s. Answers showing more tokens than expected pull it forward.
    expect(performance.now() - started).toBeLessThan(2100);
  });

  it("holds requests until a fixed window resets when only X-RateLimit-* is sent", async () => {
    let n = 0;
    const resetAt = () => ({
      "X-RateLimit-Limit": "2",
      "X-RateLimit-Remaining": String(Math.max(0, 1 - n++)),
      "X-RateLimit-Reset": "1",
    });
    const server = fakeServer({
      capacity: 100,
      perSecond: 100,
      respond: () => ({ status: 200, headers: resetAt() }),
    });
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, onThrottle: (e) => events.push(e) });
    const started = performance.now();
    await client(URL_A);
    await client(URL_A);
    await client(URL_A);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(events).toEqual([expect.objectContaining({ reason: "paced", policy: "x-ratelimit" })]);
  });

  it("re-asks once a second when a drained limit says neither its rate nor its reset", async () => {
    const server = fakeServer({
      capacity: 100,
      perSecond: 100,
      respond: () => ({ status: 200, headers: { RateLimit: '"x";r=0' } }),
    });
    const client = createBackoffFetch({ fetch: server.fetch });
    const started = performance.now();
    await client(URL_A);
    await client(URL_A);
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(1300);
  });

  it("ignores malformed headers instead of throwing", async () => {
    const headers = {
      RateLimit: '"burst";r=-1;t=x, ((',
      "RateLimit-Policy": "q=",
      "Retry-After": "soon",
      "X-RateLimit-Remaining": "NaN",
    };
    const server = fakeServer({ capacity: 1, perSecond: 1, respond: () => ({ status: 200, headers }) });
    const client = createBackoffFetch({ fetch: server.fetch });
    const statuses = await Promise.all(
      [client(URL_A), client(URL_A), client(URL_A)].map((p) => p.then((r) => r.status)),
    );
    expect(statuses).toEqual([200, 200, 200]);
  });

  it("keeps origins apart", async () => {
    const server = fakeServer({ capacity: 100, perSecond: 100, latencyMs: 30 });
    const client = createBackoffFetch({ fetch: server.fetch });
    await Promise.all([client("https://a.example/x"), client("https://b.example/x")]);
    // Both were first contacts of their own origin, so both went at once.
    expect(server.maxInflight()).toBe(2);
  });
});

describe("429 handling", () => {
  const throttledOnce =
    (retryAfter: string) =>
    (n: number): { status: number; headers: Record<string, string> } =>
      n === 0 ? { status: 429, headers: { "Retry-After": retryAfter } } : { status: 200, headers: {} };

  it("waits Retry-After (plus jitter) and retries an idempotent request", async () => {
    const server = fakeServer({ capacity: 10, perSecond: 10, respond: throttledOnce("1") });
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, jitter: 50, onThrottle: (e) => events.push(e) });
    const res = await client(URL_A, { method: "PUT", body: "payload" });
    expect(res.status).toBe(200);
    expect(server.sent.map((s) => [s.method, s.status, s.body])).toEqual([
      ["PUT", 429, "payload"],
      ["PUT", 200, "payload"],
    ]);
    const gap = (server.sent[1]?.at ?? 0) - (server.sent[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(1300);
    expect(events).toEqual([expect.objectContaining({ reason: "retry-after", attempt: 1, method: "PUT" })]);
  });

  it("replays a Request object's body on retry and leaves the caller's Request unread", async () => {
    const server = fakeServer({ capacity: 10, perSecond: 10, respond: throttledOnce("0") });
    const client = createBackoffFetch({ fetch: server.fetch, jitter: 0 });
    const request = new Request(URL_A, { method: "DELETE", body: "x" });
    expect((await client(request)).status).toBe(200);
    expect(server.sent.map((s) => s.body)).toEqual(["x", "x"]);
    expect(request.bodyUsed).toBe(false);
  });

  it("does not retry a POST by default", async () => {
    const server = fakeServer({ capacity: 10, perSecond: 10, respond: throttledOnce("0") });
    const client = createBackoffFetch({ fetch: server.fetch });
    expect((await client(URL_A, { method: "POST", body: "x" })).status).toBe(429);
    expect(server.sent).toHaveLength(1);
  });

  it("retries a POST when retryMethods says so, and stops after `retries`", async () => {
    const server = fakeServer({
      capacity: 10,
      perSecond: 10,
      respond: () => ({ status: 429, headers: { "Retry-After": "0" } }),
    });
    const client = createBackoffFetch({ fetch: server.fetch, retryMethods: ["post"], retries: 3, jitter: 0 });
    expect((await client(URL_A, { method: "POST", body: "x" })).status).toBe(429);
    expect(server.sent).toHaveLength(4);
  });

  it("returns the 429 at once when Retry-After exceeds maxWait", async () => {
    const server = fakeServer({ capacity: 10, perSecond: 10, respond: throttledOnce("60") });
    const client = createBackoffFetch({ fetch: server.fetch, maxWait: 1000 });
    const started = performance.now();
    const res = await client(URL_A);
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBe("60");
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("sends at once, instead of waiting, a request whose turn would come after maxWait", async () => {
    const server = fakeServer({ capacity: 1, perSecond: 1 });
    const client = createBackoffFetch({ fetch: server.fetch, maxWait: 300, retries: 0 });
    await client(URL_A);
    const started = performance.now();
    const res = await client(URL_A);
    expect(performance.now() - started).toBeLessThan(100);
    expect(res.status).toBe(429);
  });
});

describe("AbortSignal", () => {
  it("rejects a held request with the signal's reason and never sends it", async () => {
    const server = fakeServer({ capacity: 1, perSecond: 1 });
    const client = createBackoffFetch({ fetch: server.fetch });
    await client(URL_A);
    const controller = new AbortController();
    const held = client(URL_A, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("user left")), 50);
    await expect(held).rejects.toThrow("user left");
    expect(server.sent).toHaveLength(1);
  });

  it("aborts a retry wait too", async () => {
    const server = fakeServer({
      capacity: 10,
      perSecond: 10,
      respond: () => ({ status: 429, headers: { "Retry-After": "5" } }),
    });
    const client = createBackoffFetch({ fetch: server.fetch });
    const signal = AbortSignal.timeout(100);
    await expect(client(URL_A, { signal })).rejects.toMatchObject({ name: "TimeoutError" });
    expect(server.sent).toHaveLength(1);
  });

  it("rejects at once for a signal that is already aborted", async () => {
    const server = fakeServer({ capacity: 10, perSecond: 10 });
    const client = createBackoffFetch({ fetch: server.fetch });
    const reason = new Error("already");
    await expect(client(URL_A, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(server.sent).toHaveLength(0);
  });
});

describe("observers", () => {
  it("survives an onThrottle that throws", async () => {
    const server = fakeServer({ capacity: 2, perSecond: 2 });
    const client = createBackoffFetch({
      fetch: server.fetch,
      onThrottle: () => {
        throw new Error("observer bug");
      },
    });
    const statuses = await Promise.all(
      [client(URL_A), client(URL_A), client(URL_A)].map((p) => p.then((r) => r.status)),
    );
    expect(statuses).toEqual([200, 200, 200]);
  });
});
