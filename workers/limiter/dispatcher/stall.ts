/** @module The isolate's own stalls, seen by late timers: time the isolate could not run is not the store's silence. */

/**
 * A timer later than this means the isolate was busy with other events (workerd timers are ms-exact); only
 * the lateness beyond it counts, so a machine's scheduling jitter does not stretch every wait.
 */
export const BEHIND_MS = 5;

/** A moment, and how much stall the isolate had seen by then: spans are measured net of later stalls. */
export interface Mark {
  atMs: number;
  stallMs: number;
}

/**
 * Sums the spans during which the isolate ran none of its timers on time. Many waiters' timers fire late in
 * the same stall: spans are merged, so each stalled millisecond counts once.
 *
 * @example
 * const stall = new StallClock();
 * const mark = stall.mark(Date.now());
 * // … a timer due at dueMs fires at now …
 * stall.observe(dueMs, now);
 * stall.since(mark, now); // elapsed ms, less the isolate's stalls
 */
export class StallClock {
  totalMs = 0;
  #coveredUntilMs = Number.NEGATIVE_INFINITY;

  /** A timer due at `dueMs` ran at `nowMs`: when late, the isolate was stalled in between. */
  observe(dueMs: number, nowMs: number): void {
    if (nowMs - dueMs <= BEHIND_MS) return;
    const from = Math.max(dueMs + BEHIND_MS, this.#coveredUntilMs);
    if (nowMs > from) this.totalMs += nowMs - from;
    this.#coveredUntilMs = Math.max(this.#coveredUntilMs, nowMs);
  }

  mark(nowMs: number): Mark {
    return { atMs: nowMs, stallMs: this.totalMs };
  }

  /** Milliseconds from `mark` to `nowMs` during which the isolate was not stalled. */
  since(mark: Mark, nowMs: number): number {
    return Math.max(0, nowMs - mark.atMs - (this.totalMs - mark.stallMs));
  }
}
