/** @module The isolate's own stalls, seen by late timers while decisions pour in or out (asked or answered locally): not the store's silence. */

/**
 * A timer later than this means the isolate was busy with other events (workerd timers are ms-exact); only
 * the lateness beyond it counts, so a machine's scheduling jitter does not stretch every wait.
 */
export const BEHIND_MS = 5;
/**
 * A late timer counts as the isolate's own stall only when at least this many decisions arrived or were
 * answered while it waited: a flood being taken in or answered. A late timer in a quiet isolate (its
 * process descheduled on a busy machine) is not discounted, so a hung store is still found within
 * `timeoutMs` there.
 */
export const BUSY_ARRIVALS = 8;
/** Waits remembered at most: the oldest is forgotten first (more than an isolate's concurrent requests). */
const MAX_OUTSTANDING = 10_000;

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
  /** Timers being waited for: an answer read in the same turn as an overdue one may come before its callback. */
  readonly #outstanding = new Set<Alarm>();

  /** A decision arrived in the isolate, or was answered: either is an event the isolate had to run. */
  arrived(): void {
    this.#arrivals++;
  }

  /** Remembers a timer set now for `dueMs`; hand it back to `settle` when the wait ends. */
  alarm(dueMs: number): Alarm {
    const alarm = { dueMs, arrivals: this.#arrivals };
    // A cancelled request never settles its alarm; answers prune those, and in a long outage this bound does.
    if (this.#outstanding.size >= MAX_OUTSTANDING)
      this.#outstanding.delete(this.#outstanding.values().next().value as Alarm);
    this.#outstanding.add(alarm);
    return alarm;
  }

  /** The wait for `alarm` ended at `nowMs`: by its timer (observed), or earlier by an answer (forgotten). */
  settle(alarm: Alarm, nowMs: number): void {
    this.#outstanding.delete(alarm);
    if (nowMs >= alarm.dueMs) this.observe(alarm, nowMs);
  }

  /**
   * Observes the earliest timer still waited for that fell due between `fromMs` and `nowMs`, as if it ran
   * now. An answer and overdue timers become ready in one turn of the event loop: the answer must not be
   * measured before the stall that delayed it is counted. Timers due before `fromMs` are dropped: their
   * waiters' requests went away without returning (cancelled), and they must not reach back in time.
   */
  catchUp(fromMs: number, nowMs: number): void {
    let earliest: Alarm | undefined;
    for (const alarm of this.#outstanding) {
      if (alarm.dueMs < fromMs) this.#outstanding.delete(alarm);
      else if (!earliest || alarm.dueMs < earliest.dueMs) earliest = alarm;
    }
    if (earliest && nowMs >= earliest.dueMs) this.observe(earliest, nowMs);
  }

  /** The timer `alarm` ran at `nowMs`: when late while decisions kept coming and going, the isolate was stalled. */
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
