/** @module Schedules requests per scope: first-contact probe, token pacing, flow control, Retry-After blocks, deadlines and aborts. */
import type { Dialect, RateLimitInfo } from "./dialects";
import { type Pacing, ScopeState, type Ticket } from "./state";

/**
 * Why a request is being held back: `first-contact` (until the scope's first answer), `paced` (for tokens
 * the headers promise), `flow` (the flow window is full: no readable headers), `retry-after` (a throttled
 * answer's `Retry-After`, or the flow's backoff when it had none).
 */
export type ThrottleReason = "paced" | "retry-after" | "first-contact" | "flow";

/** What `onThrottle` receives when a request starts waiting, and again if the reason it waits changes. */
export interface ThrottleEvent {
  /** The scope whose state held the request: by default the URL's origin (see the `scope` option). */
  scope: string;
  /** The limit that is short of tokens, `null` for first contact and Retry-After blocks. */
  policy: string | null;
  /**
   * For a Retry-After block: the `violated-policies` of the problem+json answer that set it (draft -11
   * `quota-exceeded` / `temporary-reduced-capacity`), `[]` when it named none.
   */
  violatedPolicies: readonly string[];
  /** Expected wait in ms; `null` while unknown (first contact: until the first answer arrives). */
  waitMs: number | null;
  reason: ThrottleReason;
  /** The dialect of the scope's latest answer that had rate-limit headers (or `Retry-After`), `null` if none yet. */
  dialect: Dialect | null;
  /** How the scope's requests are let go now (see {@link Pacing}), `null` before its first answer. */
  pacing: Pacing | null;
  url: string;
  method: string;
  /** 0 for the first send, 1.. for retries after a 429. */
  attempt: number;
}

/** What a caller asks of `acquire`. */
export interface AcquireRequest {
  url: string;
  method: string;
  attempt: number;
  /** Monotonic ms after which the request goes regardless of state (the `maxWait` budget). */
  deadline: number;
  /** Monotonic ms before which this request may not go (a retry's Retry-After plus jitter). */
  notBefore?: number;
  signal?: AbortSignal | null;
}

interface Waiter {
  request: AcquireRequest;
  resolve: (ticket: Ticket) => void;
  reject: (reason: unknown) => void;
  /** The reason last reported through `onThrottle`, so each new kind of wait is reported once. */
  notified: ThrottleReason | null;
  cleanup: () => void;
}

/** Largest delay `setTimeout` takes before it overflows into "fire now". */
const MAX_TIMER_MS = 2_147_483_647;
/** Scopes idle this long with nothing pending are forgotten, so a long-lived client's memory stays bounded. */
const IDLE_FORGET_MS = 10 * 60_000;
const MAX_SCOPES = 256;

function monotonicNow(): number {
  return globalThis.performance?.now?.() ?? Date.now();
}

/**
 * Holds requests per scope until the scope's state lets them go, and learns from their answers.
 *
 * @example
 * const pacer = new Pacer((e) => console.log(e.reason));
 * const ticket = await pacer.acquire(url.origin, { url: url.href, method: "GET", attempt: 0, deadline: pacer.now() + 30_000 });
 * const res = await fetch(url);
 * pacer.settle(ticket, readRateLimitInfo(res.headers), res.status);
 */
export class Pacer {
  private readonly scopes = new Map<string, ScopeState>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly timers = new Map<string, { at: number; id: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly onThrottle: (event: ThrottleEvent) => void = () => {},
    readonly now: () => number = monotonicNow,
  ) {}

  /**
   * Resolves with a ticket once `scope` may send (or the deadline passed); rejects with the signal's reason on abort.
   *
   * @example
   * const ticket = await pacer.acquire("https://api.example", { url, method: "GET", attempt: 0, deadline, signal });
   */
  acquire(scope: string, request: AcquireRequest): Promise<Ticket> {
    const signal = request.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Ticket>((resolve, reject) => {
      const waiter: Waiter = { request, resolve, reject, notified: null, cleanup: () => {} };
      if (signal) {
        const onAbort = () => {
          const queue = this.queues.get(scope) ?? [];
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          reject(signal.reason);
          this.pump(scope);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      const queue = this.queues.get(scope) ?? [];
      queue.push(waiter);
      this.queues.set(scope, queue);
      this.pump(scope);
    });
  }

  /**
   * Records an answer (any status) for a ticket and releases whoever may go now. Returns the earliest time
   * (monotonic ms) a new request to the scope could go: a retry that can't wait that long gives up.
   *
   * @example
   * pacer.settle(ticket, readRateLimitInfo(response.headers), response.status, await readViolatedPolicies(response));
   */
  settle(ticket: Ticket, info: RateLimitInfo, status: number, violated: readonly string[] = []): number {
    const state = this.state(ticket.scope);
    const now = this.now();
    state.recordAnswer(ticket, info, status, now, violated);
    this.pump(ticket.scope);
    return state.readyAt(now);
  }

  /**
   * Records that a ticket's request failed without an answer.
   *
   * @example
   * try { await fetch(url); } catch (error) { pacer.fail(ticket); throw error; }
   */
  fail(ticket: Ticket): void {
    this.state(ticket.scope).recordFailure(ticket);
    this.pump(ticket.scope);
  }

  private state(scope: string): ScopeState {
    let state = this.scopes.get(scope);
    if (!state) {
      this.forgetIdle();
      state = new ScopeState(scope);
      this.scopes.set(scope, state);
    }
    return state;
  }

  private forgetIdle(): void {
    if (this.scopes.size < MAX_SCOPES) return;
    const now = this.now();
    for (const [key, s] of this.scopes) {
      if (s.inflight === 0 && !this.queues.get(key)?.length && now - s.lastUsed > IDLE_FORGET_MS) {
        this.scopes.delete(key);
        this.queues.delete(key);
      }
    }
  }

  /** Lets every waiter go that may go now, then sets one timer for the next moment something can change. */
  private pump(scope: string): void {
    const queue = this.queues.get(scope) ?? [];
    const state = this.state(scope);
    const now = this.now();
    let nextAt = Number.POSITIVE_INFINITY;
    let ahead = 0;
    for (let i = 0; i < queue.length; ) {
      const waiter = queue[i] as Waiter;
      const { request } = waiter;
      const hold = this.holdFor(state, request, ahead, now);
      // Past its budget, or certain to pass it before its turn, a request goes now: waiting would gain nothing,
      // and the caller then gets the server's own answer.
      const overBudget = hold !== null && hold.waitMs !== null && now + hold.waitMs > request.deadline;
      if (hold === null || overBudget || now >= request.deadline) {
        queue.splice(i, 1);
        waiter.cleanup();
        const probe = hold === null && !state.learned && !state.probeInFlight;
        waiter.resolve(state.recordSend(now, 1, probe));
        continue;
      }
      if (waiter.notified !== hold.reason) {
        waiter.notified = hold.reason;
        this.notify(scope, request, hold);
      }
      if (hold.reason === "paced") ahead++;
      nextAt = Math.min(nextAt, hold.waitMs === null ? request.deadline : now + hold.waitMs);
      i++;
    }
    if (queue.length === 0) this.queues.delete(scope);
    this.schedule(scope, nextAt, now);
  }

  /** `null` when the request may go now; otherwise why and for how long (`null` ms = until an answer). */
  private holdFor(
    state: ScopeState,
    request: AcquireRequest,
    ahead: number,
    now: number,
  ): { reason: ThrottleReason; waitMs: number | null; policy: string | null } | null {
    const notBefore = Math.max(state.blockedUntil, request.notBefore ?? 0);
    if (notBefore > now) return { reason: "retry-after", waitMs: Math.ceil(notBefore - now), policy: null };
    if (!state.learned) {
      return state.probeInFlight ? { reason: "first-contact", waitMs: null, policy: null } : null;
    }
    if (state.buckets.size === 0) {
      return state.flow.allows(state.inflight) ? null : { reason: "flow", waitMs: null, policy: null };
    }
    let wait = 0;
    let policy: string | null = null;
    for (const bucket of state.buckets.values()) {
      bucket.refill(now, state.inflight);
      // Waiters ahead in line take their tokens first, so this one needs `ahead + 1` of them.
      const w = bucket.waitFor(ahead + 1, now);
      if (w > wait) {
        wait = w;
        policy = bucket.name;
      }
    }
    if (wait === 0) return null;
    return { reason: "paced", waitMs: Number.isFinite(wait) ? wait : null, policy };
  }

  private notify(
    scope: string,
    request: AcquireRequest,
    hold: { reason: ThrottleReason; waitMs: number | null; policy: string | null },
  ): void {
    const state = this.state(scope);
    try {
      this.onThrottle({
        scope,
        policy: hold.policy,
        violatedPolicies: hold.reason === "retry-after" ? state.blockedBy : [],
        waitMs: hold.waitMs,
        reason: hold.reason,
        dialect: state.dialect,
        pacing: hold.reason === "first-contact" ? null : state.pacing(),
        url: request.url,
        method: request.method,
        attempt: request.attempt,
      });
    } catch {
      // A failing observer must not break the request it observes.
    }
  }

  private schedule(scope: string, at: number, now: number): void {
    const existing = this.timers.get(scope);
    if (existing && existing.at === at) return;
    if (existing) clearTimeout(existing.id);
    this.timers.delete(scope);
    if (!Number.isFinite(at)) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - now)));
    const id = setTimeout(() => {
      this.timers.delete(scope);
      this.pump(scope);
    }, delay);
    this.timers.set(scope, { at, id });
  }
}
