/** @module The 60-request burst in Node against real edges (two workerd instances, Redis): plain fetch vs the client. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBackoffFetch, type ThrottleEvent } from "../../client/index.ts";
import { type EdgeStack, startEdgeStack } from "../helpers/edge-stack";
import { burstPolicies, type Gateway, serverAllowed, serverDenials, startGateway } from "./gateway";

const BURST = 60;
const CAPACITY = 10;
const RATE_PER_S = 5;
/** The fastest any client can finish: the bucket's 10 tokens at once, then 5 per second. */
const MINIMUM_MS = ((BURST - CAPACITY) / RATE_PER_S) * 1000;

let stack: EdgeStack;
let gateway: Gateway;

beforeAll(async () => {
  stack = await startEdgeStack({ policies: burstPolicies(), instances: 2 });
  gateway = await startGateway(stack.edges.map((e) => e.url));
});
afterAll(async () => {
  await gateway?.stop();
  await stack?.stop();
});

async function burst(send: typeof fetch, path: string): Promise<{ statuses: number[]; ms: number }> {
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const res = await send(`${gateway.url}${path}/${i}`);
      await res.arrayBuffer();
      return res.status;
    }),
  );
  return { statuses, ms: performance.now() - started };
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

describe("60-request burst against a 10-token, 5/s bucket", () => {
  it("plain fetch: the bucket's 10 pass, the rest draw 429s", async () => {
    const { statuses, ms } = await burst(fetch, "/demo-api/plain");
    const ok = count(statuses, 200);
    console.log(`plain fetch: ${ok} × 200, ${count(statuses, 429)} × 429 in ${ms.toFixed(0)} ms`);
    expect(ok + count(statuses, 429)).toBe(BURST);
    // Exactly 10 unless the burst itself lasts long enough for a token to refill (one per 200 ms).
    expect(ok).toBeGreaterThanOrEqual(CAPACITY);
    expect(ok).toBeLessThanOrEqual(CAPACITY + Math.floor((ms / 1000) * RATE_PER_S));
    expect(await serverDenials(stack, "demo-plain")).toBe(count(statuses, 429));
  });

  const events: ThrottleEvent[] = [];
  const client = createBackoffFetch({ onThrottle: (e) => events.push(e) });

  it("the client: all 60 succeed, no 429 sent by the server, within 20 % of the theoretical minimum", async () => {
    const { statuses, ms } = await burst(client, "/demo-api/client");
    console.log(
      `backoff client: ${count(statuses, 200)} × 200, ${count(statuses, 429)} × 429 in ${ms.toFixed(0)} ms`,
    );
    expect(count(statuses, 200)).toBe(BURST);
    expect(await serverDenials(stack, "demo-client")).toBe(0);
    expect(await serverAllowed(stack, "demo-client")).toBe(BURST);
    expect(ms).toBeGreaterThanOrEqual(MINIMUM_MS * 0.9);
    expect(ms).toBeLessThanOrEqual(MINIMUM_MS * 1.2);
    // The first request probes; the other 59 are held, first for the probe, then for tokens.
    expect(events.filter((e) => e.reason === "first-contact")).toHaveLength(BURST - 1);
    expect(events.every((e) => e.scope === gateway.url && e.attempt === 0)).toBe(true);
    const paced = events.filter((e) => e.reason === "paced");
    expect(paced.length).toBeGreaterThan(0);
    expect(paced.every((e) => e.policy === "burst" && e.waitMs !== null && e.waitMs > 0)).toBe(true);
  }, 30_000);

  it("the same client's second burst on the drained bucket: no 429, paced from empty (60 / 5 s)", async () => {
    const before = await serverDenials(stack, "demo-client");
    const { statuses, ms } = await burst(client, "/demo-api/client");
    console.log(`backoff client, drained bucket: ${count(statuses, 200)} × 200 in ${ms.toFixed(0)} ms`);
    expect(count(statuses, 200)).toBe(BURST);
    expect(await serverDenials(stack, "demo-client")).toBe(before);
    // The bucket refilled a little while the previous test read /metrics, so allow for a token or two.
    expect(ms).toBeGreaterThanOrEqual((BURST / RATE_PER_S) * 1000 * 0.9);
    expect(ms).toBeLessThanOrEqual((BURST / RATE_PER_S) * 1000 * 1.2);
  }, 30_000);
});

describe("a 429's problem+json body (draft-ietf-httpapi-ratelimit-headers-11)", () => {
  it("is quota-exceeded naming the limit, and the client reports its violated-policies", async () => {
    // demo-cors: 2 tokens, one more per minute, so the third request is denied for ~60 s.
    const url = `${gateway.url}/demo-api/cors/problem`;
    for (let i = 0; i < 2; i++) expect((await fetch(url)).status).toBe(200);
    const events: ThrottleEvent[] = [];
    const abort = new AbortController();
    const client = createBackoffFetch({
      retries: 0,
      maxWait: 120_000,
      onThrottle(event) {
        events.push(event);
        setTimeout(() => abort.abort(new Error("seen")), 0);
      },
    });
    const denied = await client(url);
    expect(denied.status).toBe(429);
    // The client read a copy: the caller still gets the whole body.
    const body = await denied.json();
    expect(body).toEqual({
      type: "https://iana.org/assignments/http-problem-types#quota-exceeded",
      title: "Quota Exceeded",
      status: 429,
      detail: 'rate limit exceeded: policy "demo-cors", limit "burst"',
      "violated-policies": ["burst"],
      policy: "demo-cors",
      reason: "limit_exceeded",
      retryAfterMs: body.retryAfterMs,
    });
    expect(body.retryAfterMs).toBeGreaterThan(55_000);
    expect(body.retryAfterMs).toBeLessThanOrEqual(60_000);
    // The next request waits out Retry-After; the event names what the server said was violated.
    await expect(client(url, { signal: abort.signal })).rejects.toThrow("seen");
    expect(events).toEqual([
      {
        scope: gateway.url,
        policy: null,
        violatedPolicies: ["burst"],
        waitMs: events[0]?.waitMs,
        reason: "retry-after",
        dialect: "draft-11",
        pacing: "refill",
        url,
        method: "GET",
        attempt: 0,
      },
    ]);
    expect(events[0]?.waitMs).toBeGreaterThan(55_000);
  });
});
