/** @module One conversation with the store per isolate: decisions queued, merged per bucket, sent in few bounded calls. */
import type { BucketResult } from "../../../lua";
import type { Metrics } from "../../metrics";
import type { StoreFailure, StoreOutcome, WaitLimits } from "../store-call";
import type { StoreHealth } from "../store-health";
import type { RedisLike } from "../types";
import { InFlightLimit } from "./in-flight";
import { type Mark, StallClock } from "./stall";
import { type Ask, type Flight, fail, mergeTakes, runTakes, settle } from "./takes";

export type { Ask } from "./takes";

/**
 * How many store calls an isolate keeps in flight (from `minInFlight`, growing up to `maxInFlight` while the
 * store answers unhurried), and how many takes one call carries (see configuration.md).
 */
export const DISPATCH_DEFAULTS = { minInFlight: 2, maxInFlight: 16, maxTakesPerCall: 128 } as const;

/** How often the request that sent a call looks at the clock while it is in flight: the isolate's stalls show. */
const TICK_MS = 5;
/** However the isolate stalls, a decision waits at most this many times its `maxWaitMs`: it never hangs. */
const CEILING_FACTOR = 3;

export interface DispatchOptions {
  minInFlight?: number;
  maxInFlight?: number;
  maxTakesPerCall?: number;
}

/** What a decision asks the store: its bucket, cost and lease, and how long it may wait. */
export type AskInput = Omit<Ask, "queued" | "outcome" | "carrier">;

/**
 * The isolate's store dispatcher. A decision that finds a free slot leaves at once, carrying every
 * decision queued before it; others wait at the edge (queueing, never store silence) and go with the next
 * call. Decisions on one bucket merge into one take, and a bucket has at most one take in flight.
 *
 * Workers-safe: only plain data is shared. A request awaits either the call it sent itself or the promise
 * chain of a call another live request sent and awaits; its own timer bounds the wait. A request whose
 * shared call ended without an outcome for it (the sender was cancelled) asks again, alone.
 *
 * @example
 * const dispatcher = new StoreDispatcher(() => redis, health, metrics);
 * const outcome = await dispatcher.take({ group, keys, limits, cost: 1 }, policy);
 */
export class StoreDispatcher {
  // A Set keeps arrival order and forgets a finished decision in O(1) while thousands wait.
  readonly #queue = new Set<Ask>();
  readonly #flights = new Set<Flight>();
  readonly #busyGroups = new Map<string, Flight>();
  readonly #limit: InFlightLimit;
  /** Decisions found every slot busy since the last answer: the limit held them back. */
  #wanted = false;
  readonly #maxTakesPerCall: number;
  readonly #stall = new StallClock();
  /** The store's last answer to any call of this isolate. */
  #lastAnswer: Mark = { atMs: Number.NEGATIVE_INFINITY, stallMs: 0 };
  /**
   * Since when the store owes this isolate an answer: the first call sent after its last answer (or that
   * answer, when calls were still in flight). Undefined when nothing is owed. A call given up by every
   * decision it carried leaves the debt standing: the next call does not start the silence afresh.
   */
  #owedSince: Mark | undefined;

  readonly #client: () => RedisLike;
  readonly #health: StoreHealth;
  readonly #metrics: Metrics;

  constructor(client: () => RedisLike, health: StoreHealth, metrics: Metrics, options: DispatchOptions = {}) {
    this.#client = client;
    this.#health = health;
    this.#metrics = metrics;
    this.#limit = new InFlightLimit(
      options.minInFlight ?? DISPATCH_DEFAULTS.minInFlight,
      options.maxInFlight ?? DISPATCH_DEFAULTS.maxInFlight,
    );
    this.#maxTakesPerCall = options.maxTakesPerCall ?? DISPATCH_DEFAULTS.maxTakesPerCall;
    metrics.set("erl_store_calls_in_flight", {}, 0);
    metrics.set("erl_store_in_flight_limit", {}, this.#limit.value);
  }

  /** A decision this isolate answered without the store: a late timer meanwhile is the isolate's stall too. */
  answeredLocally(): void {
    this.#stall.arrived();
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.#flights.size;
  }

  /**
   * Decides `input` with the store, waiting while the store answers anyone in the isolate: fails when calls
   * are in flight and none has answered for `timeoutMs`, and when this decision has waited `maxWaitMs`.
   * `waitUntil` keeps a call this request sends alive for the followers if its own client goes away.
   */
  async take(
    input: AskInput,
    limits: WaitLimits,
    waitUntil?: (promise: Promise<unknown>) => void,
  ): Promise<StoreOutcome<BucketResult>> {
    let ask: Ask = { ...input, queued: this.#stall.mark(Date.now()) };
    this.#queue.add(ask);
    this.#stall.arrived();
    let retried = false;
    let mine: Flight | undefined;
    for (;;) {
      if (ask.outcome) return this.#finish(ask);
      if (ask.carrier?.done) {
        // The call that carried this decision ended without its outcome: its sender was cancelled.
        if (retried) return this.#finish(ask, lost());
        retried = true;
        ask = { ...input, queued: ask.queued };
        mine = this.#launch([ask], waitUntil);
        continue;
      }
      const now = Date.now();
      const stop = this.#deadline(ask, limits, now);
      if (stop) return this.#finish(ask, stop);
      if (!ask.carrier) mine = this.#launchIfFree(ask, waitUntil) ?? mine;
      // This request's own call first (it must await what it sent), then the call its bucket waits for,
      // then the oldest call: a slot frees when it lands.
      const target =
        mine && !mine.done ? mine : (ask.carrier ?? this.#busyGroups.get(ask.group) ?? this.#oldest());
      const waitMs = Math.min(
        this.#nextCheckMs(ask, limits, now),
        mine && !mine.done ? TICK_MS : Number.POSITIVE_INFINITY,
      );
      const alarm = this.#stall.alarm(now + waitMs);
      await wake(target?.promise, waitMs);
      this.#stall.settle(alarm, Date.now());
    }
  }

  /**
   * Why this decision must stop waiting now, if it must: calls are in flight and the store has answered
   * none of them for `timeoutMs` (unavailable), or the decision has waited `maxWaitMs` (busy). Both count
   * only time the isolate could run: a stall of its own is not the store's doing.
   */
  #deadline(ask: Ask, limits: WaitLimits, now: number): StoreFailure | undefined {
    const silent = this.#silentSince(ask);
    const silenceMs = silent ? this.#stall.since(silent, now) : 0;
    if (silenceMs >= limits.timeoutMs) {
      const message = `the store answered nothing for ${silenceMs} ms (timeoutMs ${limits.timeoutMs})`;
      return { kind: "unavailable", reason: "redis_timeout", message, silenceMs };
    }
    const waitedMs = this.#stall.since(ask.queued, now);
    const ceiling = now - ask.queued.atMs >= CEILING_FACTOR * limits.maxWaitMs;
    if (waitedMs < limits.maxWaitMs && !ceiling) return undefined;
    const message = `the store was busy: no answer within maxWaitMs (${limits.maxWaitMs} ms)`;
    return { kind: "overloaded", reason: "redis_timeout", message };
  }

  /**
   * Since when the store has left this decision without news: since it began to owe the isolate an answer
   * (or since this decision arrived, whichever is later). Undefined when nothing is owed: waiting for a
   * slot while no call is out is queueing, not silence.
   */
  #silentSince(ask: Ask): Mark | undefined {
    const owed = this.#owedSince;
    if (!owed) return undefined;
    return ask.queued.atMs > owed.atMs ? ask.queued : owed;
  }

  #oldest(): Flight | undefined {
    return this.#flights.values().next().value;
  }

  /** Milliseconds until this decision's next deadline, if nothing answers and the isolate does not stall. */
  #nextCheckMs(ask: Ask, limits: WaitLimits, now: number): number {
    const silent = this.#silentSince(ask);
    const toMaxWait = limits.maxWaitMs - this.#stall.since(ask.queued, now);
    const toSilence = silent ? limits.timeoutMs - this.#stall.since(silent, now) : Number.POSITIVE_INFINITY;
    return Math.max(1, Math.min(toMaxWait, toSilence));
  }

  /**
   * Sends the queue's next call, oldest decisions first, when a slot is free and this decision's bucket has
   * no take in flight. The call may fill up before it reaches this decision: this request sends it all
   * the same (and awaits it), then looks again.
   */
  #launchIfFree(ask: Ask, waitUntil?: (promise: Promise<unknown>) => void): Flight | undefined {
    if (this.#busyGroups.has(ask.group)) return undefined;
    if (this.#flights.size >= this.#limit.value) {
      this.#wanted = true;
      return undefined;
    }
    const batch: Ask[] = [];
    const groups = new Set<string>();
    for (const queued of this.#queue) {
      if (this.#busyGroups.has(queued.group)) continue;
      if (!groups.has(queued.group) && groups.size >= this.#maxTakesPerCall) continue;
      groups.add(queued.group);
      batch.push(queued);
    }
    for (const queued of batch) this.#queue.delete(queued);
    return this.#launch(batch, waitUntil);
  }

  /** Starts one call for `batch` from this request's context; the caller awaits it. */
  #launch(batch: Ask[], waitUntil?: (promise: Promise<unknown>) => void): Flight {
    const started = this.#stall.mark(Date.now());
    this.#owedSince ??= started;
    const takes = mergeTakes(batch);
    const groups = new Set(batch.map((a) => a.group));
    const flight: Flight = {
      promise: Promise.resolve(),
      started,
      groups,
      done: false,
      waiting: batch.length,
    };
    let waitedMs = 0;
    for (const ask of batch) {
      ask.carrier = flight;
      const queuedMs = this.#stall.since(ask.queued, started.atMs);
      waitedMs = Math.max(waitedMs, queuedMs);
      this.#metrics.inc("erl_store_queue_wait_ms_total", {}, queuedMs);
    }
    if (waitedMs > this.#metrics.get("erl_store_queue_wait_max_ms"))
      this.#metrics.set("erl_store_queue_wait_max_ms", {}, waitedMs);
    flight.promise = Promise.resolve()
      .then(() => runTakes(this.#client(), takes))
      .then(
        (replies) => {
          let answered = false;
          takes.forEach((take, i) => {
            const reply = replies[i] ?? {
              ok: false,
              error: new Error("the pipeline answered too few entries"),
            };
            answered = settle(take, reply) || answered;
          });
          if (answered) this.#answered(flight);
        },
        (error: unknown) => fail(batch, error),
      )
      .finally(() => this.#land(flight));
    this.#flights.add(flight);
    for (const group of groups) if (!this.#busyGroups.has(group)) this.#busyGroups.set(group, flight);
    this.#metrics.inc("erl_store_calls_total");
    this.#metrics.inc("erl_store_call_decisions_total", {}, batch.length);
    this.#metrics.inc("erl_store_call_takes_total", {}, takes.length);
    this.#metrics.set("erl_store_calls_in_flight", {}, this.#flights.size);
    waitUntil?.(flight.promise);
    return flight;
  }

  /** The store answered `flight`: how long it had been silent (net of the isolate's stalls) goes to health. */
  #answered(flight: Flight): void {
    const now = Date.now();
    const since = this.#lastAnswer.atMs > flight.started.atMs ? this.#lastAnswer : flight.started;
    this.#stall.catchUp(since.atMs, now);
    this.#health.answered(now, flight.started.atMs, this.#stall.since(since, now));
    this.#lastAnswer = this.#stall.mark(now);
    // A call the isolate's own stalls delayed says nothing about the store, and more calls would not help.
    const stalled = this.#stall.totalMs > flight.started.stallMs;
    this.#limit.answered(now - flight.started.atMs, now, this.#wanted && !stalled);
    this.#wanted = false;
    this.#metrics.set("erl_store_in_flight_limit", {}, this.#limit.value);
    const othersOut = this.#flights.size - (this.#flights.has(flight) ? 1 : 0);
    this.#owedSince = othersOut > 0 ? this.#lastAnswer : undefined;
    this.#metrics.set("erl_edge_stalled_ms", {}, this.#stall.totalMs);
  }

  #land(flight: Flight): void {
    flight.done = true;
    this.#release(flight);
  }

  /** Frees a call's slot and its buckets: it landed, or every decision it carried gave up on it. */
  #release(flight: Flight): void {
    this.#flights.delete(flight);
    for (const group of flight.groups)
      if (this.#busyGroups.get(group) === flight) this.#busyGroups.delete(group);
    this.#metrics.set("erl_store_calls_in_flight", {}, this.#flights.size);
  }

  /** Leaves the queue (a decision that gave up is never sent) and answers. */
  #finish(ask: Ask, failure?: StoreFailure): StoreOutcome<BucketResult> {
    this.#queue.delete(ask);
    this.#stall.arrived();
    const carrier = ask.carrier;
    // A call nobody waits for any more holds no slot: a hung exchange must not wedge the isolate.
    if (carrier && !carrier.done && --carrier.waiting === 0) this.#release(carrier);
    if (failure) return { ok: false, failure };
    return ask.outcome ?? { ok: false, failure: lost() };
  }
}

function lost(): StoreFailure {
  return {
    kind: "unavailable",
    reason: "redis_error",
    message: "the store call was lost twice (its sender went away)",
  };
}

/** Resolves when `flight` settles (another live request's call, or this one's) or after `ms`, whichever is first. */
function wake(flight: Promise<void> | undefined, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alarm = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race(flight ? [flight, alarm] : [alarm]).finally(() => {
    // Checked, not passed as undefined: the Workers and Node typings disagree on what clearTimeout takes.
    if (timer !== undefined) clearTimeout(timer);
  });
}
