/** @module Flow control against servers with no rate-limit headers: hold after a 429, one request after the wait, growth on 2xx, no crowds. */
import { describe, expect, it } from "vitest";
import { createBackoffFetch, type ThrottleEvent } from "../../client/index.ts";

const URL_A = "https://api.example/items";

/**
 * A server with no rate-limit headers: a fixed window of `quota` from the first hit, 429 past it (with a
 * `Retry-After` in whole seconds when `retryAfter`). Records each request's arrival and how many were in
 * flight then, itself included.
 */
function headerlessServer(quota: number, windowMs: number, retryAfter: boolean) {
  const arrivals: { at: number; inflight: number; status: number }[] = [];
  let start = Number.NEGATIVE_INFINITY;
  let hits = 0;
  let inflight = 0;
  const fetchLike = async (): Promise<Response> => {
    inflight++;
    const now = performance.now();
    if (now >= start + windowMs) {
      start = now;
      hits = 0;
    }
    hits++;
    const status = hits <= quota ? 200 : 429;
    arrivals.push({ at: now, inflight, status });
    await new Promise((r) => setTimeout(r, 5));
    inflight--;
    const wait = Math.ceil((start + windowMs - now) / 1000);
    const headers: Record<string, string> =
      status === 429 && retryAfter ? { "Retry-After": String(wait) } : {};
    return new Response(status === 200 ? "ok" : "no", { status, headers });
  };
  return { fetch: fetchLike as typeof fetch, arrivals };
}

describe("flow control: no readable headers", () => {
  it("after a 429 holds the origin, lets one through after the wait, grows on 2xx, and no caller gets a 429", async () => {
    const server = headerlessServer(4, 1000, true);
    const events: ThrottleEvent[] = [];
    const client = createBackoffFetch({ fetch: server.fetch, onThrottle: (e) => events.push(e) });
    const statuses = await Promise.all(Array.from({ length: 12 }, () => client(URL_A).then((r) => r.status)));
    expect(statuses).toEqual(Array(12).fill(200));
    const throttled = server.arrivals.filter((a) => a.status === 429).length;
    // Plain fetch: 8 of 12 draw 429s in the first window.
    expect(throttled).toBeLessThan(8);
    // Every send after a hold went alone: no crowd released at the end of a wait.
    const afterHolds = server.arrivals.filter(
      (a, i) => i > 0 && a.at - (server.arrivals[i - 1]?.at ?? 0) >= 500,
    );
    expect(afterHolds.length).toBeGreaterThanOrEqual(2);
    expect(afterHolds.every((a) => a.inflight === 1)).toBe(true);
    expect(
      events.some((e) => e.reason === "retry-after" && e.dialect === "retry-after" && e.pacing === "flow"),
    ).toBe(true);
  }, 20_000);

  it("without Retry-After backs off from 1 s, and spends one 429 per window once it knows the quota", async () => {
    const server = headerlessServer(4, 1000, false);
    const client = createBackoffFetch({ fetch: server.fetch });
    const statuses = await Promise.all(Array.from({ length: 16 }, () => client(URL_A).then((r) => r.status)));
    expect(statuses).toEqual(Array(16).fill(200));
    // The first window teaches the budget (4); after it, each window costs at most one probe's 429 and the
    // backoff's second probe into a window still closed.
    const firstHold = server.arrivals.findIndex((a) => a.status === 429);
    const later = server.arrivals.slice(firstHold).filter((a, i, all) => {
      const previous = all[i - 1];
      return a.status === 429 && previous !== undefined && previous.status === 200;
    });
    expect(later.length).toBeLessThanOrEqual(4);
    // Plain fetch: 12 of 16 draw 429s in the first window.
    expect(server.arrivals.filter((a) => a.status === 429).length).toBeLessThan(12);
    expect(server.arrivals.filter((a) => a.status === 200)).toHaveLength(16);
  }, 30_000);
});
