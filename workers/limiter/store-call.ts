/** @module One store call, waited for while the store makes progress and given up when it is silent or failing. */
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

/** How late a timer may fire before the isolate counts as behind on its events (workerd timers are ms-exact). */
const BEHIND_MS = 10;

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
 * Awaits `call` (this request's own I/O) and decides when to stop waiting, with a timer of its own: fail
 * when the store has answered nothing in this isolate for `timeoutMs` (hung or gone), keep waiting while
 * other calls are being answered (busy), and give up at `maxWaitMs` whatever happens. Every answer is
 * recorded in `health` for the other requests to see; it never settles another request's promise.
 *
 * @example
 * const outcome = await callStore(health, { timeoutMs: 1000, maxWaitMs: 5000 }, () => redis.evalsha(…));
 */
export function callStore<T>(
  health: StoreHealth,
  limits: WaitLimits,
  call: () => Promise<T>,
): Promise<StoreOutcome<T>> {
  const startedMs = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let dueMs = startedMs;
    const finish = (outcome: StoreOutcome<T>) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(outcome);
    };
    function watch(): void {
      const now = Date.now();
      const silentSinceMs = Math.max(health.lastAnswerMs, startedMs);
      if (now - startedMs >= limits.maxWaitMs) {
        const message = `the store was busy: no answer within maxWaitMs (${limits.maxWaitMs} ms)`;
        finish({ ok: false, failure: { kind: "overloaded", reason: "redis_timeout", message } });
        return;
      }
      // A timer that fires late means this isolate is behind on its own events: answers may be queued
      // behind it, unseen. Look again once they have run, so a busy isolate never reads as a silent store.
      const behind = now - dueMs > BEHIND_MS;
      if (now - silentSinceMs >= limits.timeoutMs && !behind) {
        const message = `the store answered nothing for ${now - silentSinceMs} ms (timeoutMs ${limits.timeoutMs})`;
        const silenceMs = now - silentSinceMs;
        finish({ ok: false, failure: { kind: "unavailable", reason: "redis_timeout", message, silenceMs } });
        return;
      }
      const next = Math.max(
        1,
        Math.min(silentSinceMs + limits.timeoutMs, startedMs + limits.maxWaitMs) - now,
      );
      dueMs = now + next;
      timer = setTimeout(watch, next);
    }
    watch();
    Promise.resolve()
      .then(call)
      .then(
        (value) => {
          health.answered(Date.now(), startedMs);
          finish({ ok: true, value });
        },
        (error: unknown) => {
          const kind = classifyStoreError(error);
          if (kind === "reply") health.answered(Date.now(), startedMs);
          const message = error instanceof Error ? error.message : String(error);
          finish({ ok: false, failure: { kind, reason: "redis_error", message } });
        },
      );
  });
}
