/** @module The store's health as one isolate sees it: when it last answered, and a circuit breaker. */

/** `closed`: ask the store. `open`: the store is unavailable, decide by `onError` at once. `half_open`: one probe asks. */
export type BreakerState = "closed" | "open" | "half_open";

/** What a decision may do now: ask the store, ask it as the breaker's one probe, or not ask at all. */
export type Admission = "ask" | "probe" | "skip";

/** Cool-downs double from the first to the last while probes keep failing; the last keeps recovery under 1 s. */
export const BREAKER_COOLDOWN_MS = { first: 100, max: 500 } as const;

/**
 * Plain numbers shared by every request of an isolate — never promises: workerd cancels a request that
 * awaits another request's I/O. Each request reads and writes these around its own store call.
 *
 * @example
 * const health = new StoreHealth((to) => console.log(`breaker ${to}`));
 * if (health.admit(Date.now(), policy) !== "skip") { ...ask...; health.answered(Date.now(), startedMs); }
 */
export class StoreHealth {
  /** When the store last answered anything in this isolate (ms); progress that keeps waiting requests waiting. */
  lastAnswerMs = Number.NEGATIVE_INFINITY;
  /**
   * The longest silence a decision sat through and still got its answer (ms): how close a busy store
   * came to `timeoutMs`. Operators size `timeoutMs` from it.
   */
  longestSilenceMs = 0;
  state: BreakerState = "closed";
  #cooldownMs: number = BREAKER_COOLDOWN_MS.first;
  #reopenAtMs = 0;
  #probeStartedMs = Number.NEGATIVE_INFINITY;
  /**
   * The evidence that opened the breaker: the silence (ms) a call sat through, or Infinity for a failure
   * (refused, gateway error). A policy that tolerates a longer silence than that still asks the store.
   */
  #evidenceMs = Number.POSITIVE_INFINITY;

  readonly #onTransition: (to: BreakerState) => void;

  constructor(onTransition: (to: BreakerState) => void = () => {}) {
    this.#onTransition = onTransition;
  }

  /**
   * Whether a decision starting now may ask the store. While open, the first decision after the
   * cool-down becomes the probe; a probe that never reports back (its request was cancelled) is
   * replaced after the policy's `maxWaitMs`. A policy whose `timeoutMs` is longer than the silence that
   * opened the breaker asks anyway: by its own rule the store is not unavailable yet.
   */
  admit(nowMs: number, limits: { timeoutMs: number; maxWaitMs: number }): Admission {
    if (this.state === "closed" || limits.timeoutMs > this.#evidenceMs) return "ask";
    const probeLostMs = limits.maxWaitMs;
    if (this.state === "open" && nowMs < this.#reopenAtMs) return "skip";
    if (this.state === "half_open" && nowMs - this.#probeStartedMs < probeLostMs) return "skip";
    this.#probeStartedMs = nowMs;
    this.#transition("half_open");
    return "probe";
  }

  /**
   * The store answered a call that started at `startedMs` (a result or a Redis error reply): it is up; a
   * probe's success closes the breaker. `silenceMs`, when the caller measured it net of the isolate's own
   * stalls, is how long the store had been silent.
   */
  answered(nowMs: number, startedMs: number, silenceMs?: number): void {
    // Only a healthy store's silences: an answer that ends an outage measures the outage, not the load.
    const silence = silenceMs ?? nowMs - Math.max(this.lastAnswerMs, startedMs);
    if (this.state === "closed" && silence > this.longestSilenceMs) this.longestSilenceMs = silence;
    this.lastAnswerMs = Math.max(this.lastAnswerMs, nowMs);
    if (this.state === "closed") return;
    this.#cooldownMs = BREAKER_COOLDOWN_MS.first;
    this.#transition("closed");
  }

  /**
   * The store is unavailable (connection refused, a gateway error: `evidenceMs` Infinity; or a silence of
   * `evidenceMs` past the policy's timeout): open the breaker, or after a failed probe reopen it with a
   * doubled cool-down. A straggler that failed while the breaker was already open only adds evidence.
   */
  unavailable(nowMs: number, wasProbe: boolean, evidenceMs = Number.POSITIVE_INFINITY): void {
    if (this.state !== "closed") this.#evidenceMs = Math.max(this.#evidenceMs, evidenceMs);
    if (this.state === "open" && !wasProbe) return;
    if (this.state === "half_open" && !wasProbe) return;
    if (this.state === "closed") this.#evidenceMs = evidenceMs;
    if (wasProbe) this.#cooldownMs = Math.min(this.#cooldownMs * 2, BREAKER_COOLDOWN_MS.max);
    this.#reopenAtMs = nowMs + this.#cooldownMs;
    this.#transition("open");
  }

  #transition(to: BreakerState): void {
    if (this.state === to) return;
    this.state = to;
    this.#onTransition(to);
  }
}
