/** @module The isolate's own stalls, seen by late timers while decisions pour in: that time is not the store's silence. */

/**
 * A timer later than this means the isolate was busy with other events (workerd timers are ms-exact); only
 * the lateness beyond it counts, so a machine's scheduling jitter does not stretch every wait.
 */
export const BEHIND_MS = 5;
/**
 * A late timer counts as the isolate's own stall only when at least this many decisions arrived while it
 * waited: a flood being taken in. A late timer in a quiet isolate (its process descheduled on a busy
 * machine) is not discounted, so a hung store is still found within `timeoutMs` there.
 */
export const BUSY_ARRIVALS = 8;

/** A moment, and how much stall the isolate had seen by then: spans are measured net of later stalls. */
export interface Mark {
  atMs: number;
  stallMs: number;
}

/** A timer being waited for: when it is due, and how many decisions had arrived when it was set. */
export interface Alarm {
  dueMs: number;
  arrivals: number;
}

/**
 * Sums the spans during which the isolate, busy taking in decisions, ran none of its timers on time. Many
 * waiters' timers fire late in the same stall: spans are merged, so each stalled millisecond counts once.
 *
 * @example
 * const stall = new StallClock();
 * const mark = stall.mark(Date.now());
 * const alarm = stall.alarm(Date.now() + 5);
 * // … decisions arrive (stall.arrived()), the timer fires at now …
 * stall.observe(alarm, now);
 * stall.since(mark, now); // elapsed ms, less the isolate's stalls
 */
export class StallClock {
  totalMs = 0;
  #arrivals = 0;
  #coveredUntilMs = Number.NEGATIVE_INFINITY;

  /** A decision arrived in the isolate. */
  arrived(): void {
    this.#arrivals++;
  }

  /** Remembers a timer set now for `dueMs`. */
  alarm(dueMs: number): Alarm {
    return { dueMs, arrivals: this.#arrivals };
  }

  /** The timer `alarm` ran at `nowMs`: when late while decisions kept arriving, the isolate was stalled. */
  observe(alarm: Alarm, nowMs: number): void {
    if (nowMs - alarm.dueMs <= BEHIND_MS || this.#arrivals - alarm.arrivals < BUSY_ARRIVALS) return;
    const from = Math.max(alarm.dueMs + BEHIND_MS, this.#coveredUntilMs);
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
