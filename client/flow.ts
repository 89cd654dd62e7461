/** @module Flow control for origins whose rate-limit headers are absent or unreadable: slow start and AIMD, like TCP's congestion window. */

/** First wait after a throttled answer that says nothing about when to come back. */
export const BACKOFF_BASE_MS = 1000;
/** Longest such wait: the backoff doubles per throttled answer in a row up to this. */
export const BACKOFF_MAX_MS = 16_000;

/**
 * How many requests to an origin may be in flight when nothing readable says how many it accepts. It starts at
 * one (the probe) and grows by one per 2xx, which doubles it every round trip (slow start) until the first
 * throttled answer. A 429 or 503 then halves the threshold, holds the origin (for `Retry-After`, or a backoff
 * doubling from 1 s), and lets one request through after the hold; from there the window grows by one per
 * round trip past the threshold (additive increase). Growth is clocked by answers, so held requests leave a
 * few at a time as earlier ones come back, never as a crowd.
 *
 * It also learns a budget: the 2xx answers between the end of one hold and the next throttle are what the
 * server granted in that stretch (a fixed window's quota, typically). Past that many sends in a stretch,
 * requests go one at a time, so the next throttle costs one 429 instead of a window's worth.
 *
 * @example
 * const flow = new FlowControl();
 * flow.allows(0); // true: the probe
 * flow.allows(1); // false until its answer
 * flow.onSuccess(); // window 2
 * const holdMs = flow.onThrottle(sentAt, now, null); // 1000: back off, then one request
 */
export class FlowControl {
  /** Requests allowed in flight; fractional while growing additively. */
  window = 1;
  /** Slow start runs while `window` is below this; set to half the window by each throttle. */
  threshold = Number.POSITIVE_INFINITY;
  /** Throttled answers since the last 2xx: the exponent of the backoff. */
  private streak = 0;
  /** When the window was last cut: later throttles of requests sent before then are the same event. */
  private cutAt = Number.NEGATIVE_INFINITY;
  /** Sends and 2xx answers since the last cut: one stretch between holds. */
  private sentInStretch = 0;
  private okInStretch = 0;
  /** 2xx answers the last complete stretch got, `null` before the first throttle. */
  budget: number | null = null;

  /** May one more request go while `inflight` are out? */
  allows(inflight: number): boolean {
    if (this.budget !== null && this.sentInStretch >= this.budget) return inflight === 0;
    return inflight < Math.max(1, Math.floor(this.window));
  }

  /** A request left. */
  onSend(): void {
    this.sentInStretch++;
  }

  /** A 2xx (or any answer that was not throttled): grow the window, end the backoff streak. */
  onSuccess(): void {
    this.streak = 0;
    this.okInStretch++;
    this.window += this.window < this.threshold ? 1 : 1 / this.window;
  }

  /**
   * A 429 or 503 for a request sent at `sentAt`. Returns how long the origin is held from `now`: the
   * server's `Retry-After` when it sent one, otherwise a backoff doubling per throttle in a row. One cut of
   * the window per round trip: answers to requests sent before the last cut don't shrink it again.
   */
  onThrottle(sentAt: number, now: number, retryAfterMs: number | null): number {
    if (sentAt >= this.cutAt) {
      // A stretch without a single 2xx (a probe into a window still closed) teaches nothing about the quota.
      if (this.okInStretch > 0) this.budget = this.okInStretch;
      this.okInStretch = 0;
      this.sentInStretch = 0;
      this.threshold = Math.max(1, Math.floor(this.window / 2));
      this.window = 1;
      this.cutAt = now;
      this.streak++;
    }
    if (retryAfterMs !== null) return retryAfterMs;
    return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, this.streak - 1));
  }
}
