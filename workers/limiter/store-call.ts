/** @module How store calls fail (one vocabulary for the dispatcher and the breaker), and a reset's plain call. */
import type { StoreHealth } from "./store-health";

/** How a store call failed: `unavailable` feeds the breaker; `reply` means Redis answered with an error. */
export type StoreFailure =
  | { kind: "unavailable"; reason: "redis_timeout" | "redis_error"; message: string; silenceMs?: number }
  | { kind: "reply"; reason: "redis_error"; message: string }
  | { kind: "overloaded"; reason: "redis_timeout"; message: string };

export type StoreOutcome<T> = { ok: true; value: T } | { ok: false; failure: StoreFailure };

/** How long a call may wait: silence (no answer to anything in the isolate) and a hard ceiling. */
export interface WaitLimits {
  timeoutMs: number;
  maxWaitMs: number;
}

// Redis error codes that mean "can't serve now" rather than "this command is wrong", plus the proxy's and
// Upstash's own texts for a store it can't reach or won't serve.
const UNAVAILABLE_REPLY =
  /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|READONLY|NOREPLICAS)\b|^ERR proxy: Redis |^ERR max (daily|monthly|concurrent|requests?)\b/;
// A Redis error reply starts with an upper-case code word ("ERR", "WRONGTYPE", "NOSCRIPT", …).
const REDIS_REPLY = /^[A-Z]{2,}(\s|$)/;

/**
 * Sorts a failed store call: connection errors, bodies that aren't the REST API's JSON (a gateway's error
 * page), and the error replies above mean the store is unavailable; any other Redis error reply means it
 * answered.
 *
 * @example
 * classifyStoreError(new TypeError("fetch failed")); // "unavailable"
 */
export function classifyStoreError(error: unknown): "unavailable" | "reply" {
  if (!(error instanceof Error)) return "unavailable";
  // @upstash/redis throws UpstashError with the REST API's `error` text; ioredis throws ReplyError.
  if (error.name !== "UpstashError" && error.name !== "ReplyError") return "unavailable";
  const message = error.message.split(", command was:")[0] ?? "";
  return REDIS_REPLY.test(message) && !UNAVAILABLE_REPLY.test(message) ? "reply" : "unavailable";
}

/**
 * One plain call outside the dispatcher (a reset's DEL): this request's own I/O, given up after `timeoutMs`.
 * Its answer, or an error reply, counts as the store answering.
 *
 * @example
 * const outcome = await callStore(health, 1000, () => redis.del("erl:k"));
 */
export function callStore<T>(
  health: StoreHealth,
  timeoutMs: number,
  call: () => Promise<T>,
): Promise<StoreOutcome<T>> {
  const startedMs = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<StoreOutcome<T>>((resolve) => {
    timer = setTimeout(function silent() {
      const message = `the store answered nothing for ${timeoutMs} ms (timeoutMs ${timeoutMs})`;
      resolve({
        ok: false,
        failure: { kind: "unavailable", reason: "redis_timeout", message, silenceMs: timeoutMs },
      });
    }, timeoutMs);
  });
  const answer = Promise.resolve()
    .then(call)
    .then(
      (value): StoreOutcome<T> => {
        health.answered(Date.now(), startedMs);
        return { ok: true, value };
      },
      (error: unknown): StoreOutcome<T> => {
        const kind = classifyStoreError(error);
        if (kind === "reply") health.answered(Date.now(), startedMs);
        const message = error instanceof Error ? error.message : String(error);
        return { ok: false, failure: { kind, reason: "redis_error", message } };
      },
    );
  return Promise.race([answer, timeout]).finally(() => {
    // Checked, not passed as undefined: the Workers and Node typings disagree on what clearTimeout takes.
    if (timer !== undefined) clearTimeout(timer);
  });
}
