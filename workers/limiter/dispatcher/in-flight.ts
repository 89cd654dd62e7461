/** @module How many store calls an isolate keeps in flight: more while the store answers as fast as it can, back to the floor once its answers slow down. */

/** An answer within this factor of the quickest recent one (plus the slack) says the store is not queueing. */
const UNHURRIED_FACTOR = 2;
/** Jitter of a near store (answers of a millisecond or two) is not queueing. */
const SLACK_MS = 5;
/** The quickest answer is remembered over the current and the previous window: a new path is learned within two. */
const WINDOW_MS = 10_000;

/**
 * The dispatcher's limit on calls in flight, in the spirit of TCP Vegas and Netflix's concurrency limits.
 * It starts at `floor`. It grows by one for each answer that came about as fast as the quickest recent
 * answer while decisions were left waiting for a slot: a far store, whose answer time is distance, not
 * work. It halves (not below `floor`) on an answer that took more than twice as long, which means the
 * store, the proxy or the isolate is queueing. There, fewer and fuller calls are what help. So a flood
 * on a near store keeps the floor and its batching, and a store 40 ms away is no longer waited for
 * twice.
 *
 * @example
 * const limit = new InFlightLimit(2, 16);
 * limit.answered(41, Date.now(), true); // a far store, decisions waiting: limit.value is now 3
 */
export class InFlightLimit {
  #value: number;
  readonly #floor: number;
  readonly #ceiling: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #windowMin = Number.POSITIVE_INFINITY;
  #previousMin = Number.POSITIVE_INFINITY;

  constructor(floor: number, ceiling: number) {
    this.#ceiling = Math.max(1, ceiling);
    this.#floor = Math.max(1, Math.min(floor, this.#ceiling));
    this.#value = this.#floor;
  }

  /** Calls the isolate may have in flight now. */
  get value(): number {
    return this.#value;
  }

  /** A call was answered after `answerMs`; `wanted`: decisions waited for a slot while it was out. */
  answered(answerMs: number, now: number, wanted: boolean): void {
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#previousMin = this.#windowMin;
      this.#windowMin = Number.POSITIVE_INFINITY;
      this.#windowStart = now;
    }
    this.#windowMin = Math.min(this.#windowMin, answerMs);
    const quickest = Math.min(this.#windowMin, this.#previousMin);
    if (answerMs > quickest * UNHURRIED_FACTOR + SLACK_MS)
      this.#value = Math.max(this.#floor, Math.ceil(this.#value / 2));
    else if (wanted) this.#value = Math.min(this.#ceiling, this.#value + 1);
  }
}
