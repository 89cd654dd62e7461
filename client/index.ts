/** @module `edge-rate-limiter/client`: a drop-in `fetch` that paces itself from rate-limit headers instead of drawing 429s. */
import { readRateLimitInfo } from "./dialects";
import { type AcquireRequest, Pacer, type ThrottleEvent } from "./pacer";
import { readViolatedPolicies } from "./problem";

export type { Dialect, LimitState, RateLimitInfo } from "./dialects";
export { DIALECT_PRECEDENCE, readRateLimitInfo } from "./dialects";
export type { RefillClaim } from "./extension";
export { refillClaim } from "./extension";
export type { HeaderSource, LimitItem, PolicyItem, XRateLimit } from "./headers";
export {
  parseRateLimit,
  parseRateLimitPolicy,
  parseReset,
  parseRetryAfter,
  parseXRateLimit,
} from "./headers";
export type { ThrottleEvent, ThrottleReason } from "./pacer";
export { readViolatedPolicies } from "./problem";
export type { Pacing } from "./state";

/** Options of {@link createBackoffFetch}; every one has a default. */
export interface BackoffFetchOptions {
  /** The fetch to wrap. Default: `globalThis.fetch`, looked up at call time. */
  fetch?: typeof fetch;
  /**
   * The most one call waits in total (pacing plus retry waits), in ms. Default 30 000. A request whose wait
   * would exceed it is sent at once instead, and a 429 whose Retry-After exceeds it is returned as it is: the
   * caller always gets the server's own answer, never a made-up one.
   */
  maxWait?: number;
  /**
   * Retries after a 429 (or a 503 with `Retry-After`), for methods in `retryMethods`. Default: as many as
   * `maxWait` allows, so no call gets a 429 while its budget allows more waiting.
   */
  retries?: number;
  /** Methods safe to send twice. Default GET, HEAD, OPTIONS, PUT, DELETE (idempotent per RFC 9110). */
  retryMethods?: readonly string[];
  /** Up to this many random ms added to each retry's wait, so clients told the same Retry-After spread out. Default 100. */
  jitter?: number;
  /** Called each time a request starts waiting. Exceptions it throws are ignored. */
  onThrottle?: (event: ThrottleEvent) => void;
  /** Groups requests that share server state. Default: the URL's origin. */
  scope?: (url: URL) => string;
}

const DEFAULT_RETRY_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"];
/** Wait before retrying a 429 that says nothing about when to come back, for a scope with readable limits. */
const FALLBACK_RETRY_MS = 1000;

function requestUrl(input: RequestInfo | URL): URL | null {
  const text = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(text, globalThis.location?.href);
  } catch {
    return null;
  }
}

/** A body we can send again: absent, or anything but a one-shot stream. */
function replayable(input: RequestInfo | URL, init: RequestInit | undefined): boolean {
  if (init?.body !== undefined && init.body !== null) return !(init.body instanceof ReadableStream);
  return !(input instanceof Request) || !input.bodyUsed;
}

function sleepJitter(jitter: number): number {
  return jitter > 0 ? Math.floor(Math.random() * jitter) : 0;
}

/**
 * Creates a `fetch` that reads every rate-limit dialect in use (IETF drafts -03…-11, `X-RateLimit-*`,
 * GitHub's, `Retry-After`; see `readRateLimitInfo`), holds requests locally until the server has tokens
 * for them, falls back to slow start and AIMD when nothing is readable, and retries idempotent requests
 * after a 429. Same signature and results as `fetch`; aborting `init.signal` also aborts waits.
 *
 * @example
 * import { createBackoffFetch } from "edge-rate-limiter/client";
 * const api = createBackoffFetch({ maxWait: 10_000, onThrottle: (e) => console.log(e.reason, e.waitMs) });
 * const results = await Promise.all(ids.map((id) => api(`https://api.example.com/items/${id}`)));
 */
export function createBackoffFetch(options: BackoffFetchOptions = {}): typeof fetch {
  const maxWait = Math.max(0, options.maxWait ?? 30_000);
  const retries = Math.max(0, Math.floor(options.retries ?? Number.POSITIVE_INFINITY));
  const retryMethods = new Set((options.retryMethods ?? DEFAULT_RETRY_METHODS).map((m) => m.toUpperCase()));
  const jitter = Math.max(0, options.jitter ?? 100);
  const scopeOf = options.scope ?? ((url: URL) => url.origin);
  const pacer = new Pacer(options.onThrottle);

  async function backoffFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const send = options.fetch ?? globalThis.fetch;
    const url = requestUrl(input);
    // Whatever we can't place (a relative URL in Node, a bad URL) goes straight through: fetch reports it.
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return send(input, init);
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const signal = init?.signal ?? (input instanceof Request ? input.signal : null);
    const scope = scopeOf(url);
    const deadline = pacer.now() + maxWait;
    const canRetry = retryMethods.has(method) && replayable(input, init);
    // Keep the caller's Request unread so a retry can clone it again.
    const original = input instanceof Request && canRetry ? input.clone() : input;
    let notBefore = 0;

    for (let attempt = 0; ; attempt++) {
      const request: AcquireRequest = { url: url.href, method, attempt, deadline, notBefore, signal };
      const ticket = await pacer.acquire(scope, request);
      let response: Response;
      try {
        response = await send(original instanceof Request ? original.clone() : original, init);
      } catch (error) {
        pacer.fail(ticket);
        throw error;
      }
      const info = readRateLimitInfo(response.headers);
      const throttled = response.status === 429 || response.status === 503;
      const violated = throttled ? await readViolatedPolicies(response) : [];
      const readyAt = pacer.settle(ticket, info, response.status, violated);
      // A 503 is retried only when it says it is a pause (Retry-After); without it, it may be an outage.
      const retryable = response.status === 429 || (response.status === 503 && info.retryAfterMs !== null);
      if (!retryable || !canRetry || attempt >= retries) return response;
      const now = pacer.now();
      // The pacer holds the scope (Retry-After, the flow's backoff, limits until their reset) and will let
      // the retry go; a 429 that set none of these still waits, doubling per attempt.
      const retryAt =
        (readyAt > now ? readyAt : now + FALLBACK_RETRY_MS * 2 ** attempt) + sleepJitter(jitter);
      if (!Number.isFinite(retryAt) || retryAt > deadline || now >= deadline) return response;
      notBefore = retryAt;
      // The 429's body is not the caller's: release the connection before waiting.
      await response.body?.cancel().catch(() => {});
    }
  }
  return backoffFetch;
}
