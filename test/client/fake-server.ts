/** @module An in-process token-bucket server for the backoff client's suites: what it was sent, and its answers. */

export interface Sent {
  method: string;
  url: string;
  body: string | null;
  at: number;
  status: number;
}

/**
 * A fetch that answers like the edge: a continuous token bucket with draft -10 headers (and the edge's
 * `erl-refill=continuous`), after `latencyMs`.
 * `respond` can override an answer (status and headers) to script odd servers.
 */
export function fakeServer(options: {
  capacity: number;
  perSecond: number;
  latencyMs?: number;
  respond?: (
    n: number,
  ) => { status: number; headers: Record<string, string>; body?: string } | "network-error" | null;
}) {
  const sent: Sent[] = [];
  let tokens = options.capacity;
  let last = performance.now();
  let inflight = 0;
  let maxInflight = 0;
  const windowS = Math.ceil(options.capacity / options.perSecond);
  const fetchLike = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = request.body ? await request.text() : null;
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    await new Promise((r) => setTimeout(r, options.latencyMs ?? 2));
    inflight--;
    const scripted = options.respond?.(sent.length);
    if (scripted === "network-error") {
      sent.push({ method: request.method, url: request.url, body, at: performance.now(), status: 0 });
      throw new TypeError("fetch failed");
    }
    const now = performance.now();
    tokens = Math.min(options.capacity, tokens + ((now - last) / 1000) * options.perSecond);
    last = now;
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    const untilFull = Math.ceil(((options.capacity - tokens) / options.perSecond) * 1000) / 1000;
    const headers: Record<string, string> = scripted?.headers ?? {
      "RateLimit-Policy": `"burst";q=${options.capacity};w=${windowS};erl-refill=continuous`,
      RateLimit: `"burst";r=${Math.floor(tokens)};t=${Math.ceil(untilFull)}`,
      ...(allowed ? {} : { "Retry-After": "1" }),
    };
    const status = scripted?.status ?? (allowed ? 200 : 429);
    sent.push({ method: request.method, url: request.url, body, at: now, status });
    return new Response(scripted?.body ?? (status === 200 ? "ok" : "no"), { status, headers });
  };
  return { fetch: fetchLike as typeof fetch, sent, maxInflight: () => maxInflight };
}

export const URL_A = "https://api.example/items";
