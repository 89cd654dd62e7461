/** @module Per-origin, per-policy client state: a local lower bound of the server's tokens, kept in step with its headers. */
import type { Dialect, LimitState, RateLimitInfo } from "./dialects";
import { FlowControl } from "./flow";

/**
 * How a scope's requests are let go: `refill` at q/w (the server said it refills continuously), `window`
 * (`r` now, the quota back at `t`), `flow` (no readable headers: slow start and AIMD on the answers).
 */
export type Pacing = "refill" | "window" | "flow";

/**
 * Extra refill a bucket must show before a request goes, in ms of refill: the server's clock (Redis TIME, whole
 * ms) and ours never agree exactly, and sending a hair early is a 429. It shifts the pacing phase once; it
 * does not add up over a burst, because the fraction left after each send carries over.
 */
export const SAFETY_MS = 10;

/** With no refill rate and no reset time, how long a drained limit holds requests before one goes to ask again. */
export const UNKNOWN_RESET_MS = 1000;

/**
 * One server limit as seen from the client. `tokens` is kept a lower bound of what the server would still
 * allow for a new request (its tokens minus our requests it hasn't decided yet), so sending when
 * `tokens >= 1` never draws a 429 from our own traffic.
 *
 * @example
 * const bucket = new Bucket("burst\u0000", "burst", 9, now);
 * bucket.ratePerMs = 10 / 2000; // RateLimit-Policy: "burst";q=10;w=2
 * bucket.waitFor(10, now); // ms until 10 tokens are there
 */
export class Bucket {
  tokens: number;
  updatedAt: number;
  /**
   * Continuous refill in tokens/ms (`q / w`, a lower bound because the server rounds `w` up), only when the
   * server said it refills continuously (`erl-refill`); 0 = the quota comes back whole at `resetAt`.
   */
  ratePerMs = 0;
  capacity: number | null = null;
  /** When the quota comes back (`t`), for a bucket without a known rate. */
  resetAt: number | null = null;
  /** When the quota last came back here: answers to requests sent before then describe an older window. */
  windowSince = Number.NEGATIVE_INFINITY;
  /** `resetAt` is a guess from a stale answer: the next fresh answer replaces it instead of bounding it. */
  resetGuessed = false;

  constructor(
    readonly key: string,
    readonly name: string,
    tokens: number,
    now: number,
  ) {
    this.tokens = tokens;
    this.updatedAt = now;
  }

  /** Brings `tokens` up to `now`; `inflight` caps it because a full server bucket minus undecided requests is the most we may hold. */
  refill(now: number, inflight: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = now;
    const cap = this.capacity === null ? Number.POSITIVE_INFINITY : this.capacity - inflight;
    if (this.ratePerMs > 0) {
      if (this.tokens < cap) this.tokens = Math.min(cap, this.tokens + elapsed * this.ratePerMs);
    } else if (this.resetAt !== null && now >= this.resetAt) {
      // A fixed window ended: the quota is back if we know it; otherwise allow one request to learn the new state.
      this.tokens = Math.max(this.tokens, this.capacity === null ? 1 : cap);
      this.resetAt = null;
      this.windowSince = now;
    }
  }

  /** Milliseconds until `cost` tokens (plus the safety margin) are there; 0 = now, Infinity = unknown. */
  waitFor(cost: number, now: number): number {
    if (this.ratePerMs > 0) {
      const need = cost + SAFETY_MS * this.ratePerMs;
      const full = this.capacity !== null && this.tokens >= this.capacity - 1e-9;
      if (this.tokens >= need || (full && this.tokens >= cost)) return 0;
      return Math.ceil((need - this.tokens) / this.ratePerMs);
    }
    if (this.tokens >= cost) return 0;
    return this.resetAt === null
      ? Number.POSITIVE_INFINITY
      : Math.max(1, Math.ceil(this.resetAt - now + SAFETY_MS));
  }

  /** `refill` when paced at a continuous rate, otherwise `window`. */
  get pacing(): Pacing {
    return this.ratePerMs > 0 ? "refill" : "window";
  }
}

/** One request that has been let through, with what is needed to read its answer correctly. */
export interface Ticket {
  readonly scope: string;
  /** The scope's completed-request count when this one was sent: every later completion may postdate its decision. */
  readonly completedAtSend: number;
  readonly sentAt: number;
  /** The first request to an origin we know nothing about. */
  readonly probe: boolean;
}

/**
 * Everything the client knows about one origin (or whatever `scope` the caller groups requests by).
 *
 * @example
 * const state = new ScopeState("https://api.example");
 * const ticket = state.recordSend(now, 1, true);
 * state.recordAnswer(ticket, readRateLimitInfo(res.headers), res.status, later);
 */
export class ScopeState {
  readonly buckets = new Map<string, Bucket>();
  /** Some answer arrived, with or without rate-limit headers: no more first-contact probing. */
  learned = false;
  probeInFlight = false;
  /** Nothing may be sent before this (monotonic ms), from a `Retry-After`. */
  blockedUntil = 0;
  /** `violated-policies` of the throttled answer that set `blockedUntil`. */
  blockedBy: readonly string[] = [];
  /** The dialect of the latest answer that had one. */
  dialect: Dialect | null = null;
  /** Decides while no answer has had readable limits (`buckets` empty). */
  readonly flow = new FlowControl();
  sent = 0;
  completed = 0;
  inflight = 0;
  lastUsed = 0;

  constructor(readonly key: string) {}

  /** Charges every known bucket for a request that is leaving now. */
  recordSend(now: number, cost: number, probe: boolean): Ticket {
    for (const bucket of this.buckets.values()) {
      bucket.refill(now, this.inflight);
      bucket.tokens -= cost;
    }
    if (this.buckets.size === 0) this.flow.onSend();
    const ticket: Ticket = { scope: this.key, completedAtSend: this.completed, sentAt: now, probe };
    this.sent++;
    this.inflight++;
    if (probe) this.probeInFlight = true;
    this.lastUsed = now;
    return ticket;
  }

  /** A request ended without an answer (network error, abort): nothing learned, but the probe slot is free again. */
  recordFailure(ticket: Ticket): void {
    this.inflight--;
    this.completed++;
    if (ticket.probe) this.probeInFlight = false;
  }

  /** The earliest a new request could go (monotonic ms): after any hold, once every limit has a token. */
  readyAt(now: number): number {
    let at = Math.max(now, this.blockedUntil);
    for (const bucket of this.buckets.values()) {
      bucket.refill(now, this.inflight);
      at = Math.max(at, now + bucket.waitFor(1, now));
    }
    return at;
  }

  /** How requests are let go now; `null` before any answer. */
  pacing(): Pacing | null {
    if (this.buckets.size === 0) return this.learned ? "flow" : null;
    for (const bucket of this.buckets.values()) if (bucket.pacing === "window") return "window";
    return "refill";
  }

  /**
   * Folds an answer into the state. Its `remaining` was decided somewhere between our send and now; every
   * request sent but not completed by then may have been decided after it, so they are subtracted
   * (`overlap`), which keeps the estimate a lower bound whatever order answers arrive in. While no answer
   * has had readable limits, the flow window learns from the status instead. A 429 or 503 holds the scope
   * for its `Retry-After` (or, with nothing readable, the flow's backoff).
   */
  recordAnswer(
    ticket: Ticket,
    info: RateLimitInfo,
    status: number,
    now: number,
    violated: readonly string[] = [],
  ): void {
    this.inflight--;
    this.completed++;
    if (ticket.probe) this.probeInFlight = false;
    this.learned = true;
    this.lastUsed = now;
    if (info.dialect !== null) this.dialect = info.dialect;
    const throttled = status === 429 || status === 503;
    const overlap = this.sent - 1 - ticket.completedAtSend;
    for (const limit of info.limits) this.foldLimit(limit, overlap, throttled, ticket.sentAt, now);
    // The problem body names the limits that said no. One the headers just described is already exact
    // (a cost above capacity leaves tokens that smaller requests may use); one they left out is empty.
    const described = new Set(info.limits.map((l) => l.name.toLowerCase()));
    const empty = new Set(violated.map((name) => name.toLowerCase()).filter((n) => !described.has(n)));
    for (const bucket of this.buckets.values()) {
      if (empty.has(bucket.name.toLowerCase())) bucket.tokens = Math.min(bucket.tokens, 0);
    }
    let holdMs = throttled ? info.retryAfterMs : null;
    if (this.buckets.size === 0) {
      if (throttled) holdMs = this.flow.onThrottle(ticket.sentAt, now, info.retryAfterMs);
      else if (status < 400) this.flow.onSuccess();
    }
    if (holdMs !== null && now + holdMs >= this.blockedUntil) {
      this.blockedUntil = now + holdMs;
      this.blockedBy = violated;
    }
  }

  private foldLimit(
    limit: LimitState,
    overlap: number,
    throttled: boolean,
    sentAt: number,
    now: number,
  ): void {
    const estimate = limit.remaining - overlap;
    let bucket = this.buckets.get(limit.key);
    if (!bucket) {
      bucket = new Bucket(limit.key, limit.name, estimate, now);
      this.buckets.set(limit.key, bucket);
    } else {
      bucket.refill(now, this.inflight);
    }
    bucket.capacity = limit.quota;
    // Only the server's own word makes the quota a continuous refill: the drafts promise `r` now and the
    // quota back at `t`, and pacing at q/w against a fixed window draws a 429 in every window.
    const continuous = limit.refill === "continuous" && limit.quota && limit.windowMs;
    bucket.ratePerMs = continuous ? (limit.quota as number) / (limit.windowMs as number) : 0;
    // Every answer's now + t is no earlier than the reset it describes (t is rounded up, and was decided
    // before now): within one window the earliest is the best bound. An answer to a request sent before the
    // quota last came back describes the window before, and says nothing about this one.
    const resetAt = now + (limit.resetMs ?? UNKNOWN_RESET_MS);
    const fresh = sentAt >= bucket.windowSince;
    if (fresh && (bucket.resetAt === null || bucket.resetAt <= now || bucket.resetGuessed)) {
      bucket.resetAt = resetAt;
      bucket.resetGuessed = false;
    } else if (fresh) {
      bucket.resetAt = Math.min(bucket.resetAt as number, resetAt);
    } else if (bucket.resetAt === null) {
      // A stale answer beats no reset at all, but only as "ask again in a second", until a fresh one says.
      bucket.resetAt = Math.max(resetAt, now + UNKNOWN_RESET_MS);
      bucket.resetGuessed = true;
    }
    syncTokens(bucket, estimate, overlap === 0, throttled, (now - sentAt) * bucket.ratePerMs);
  }
}

/**
 * Chooses between our running estimate and the server's word. Both are lower bounds, so normally the larger
 * wins (the server's `r` is floored and, with overlap, over-subtracted). Only an answer with no overlap is
 * exact enough to pull the estimate down: then tokens above `r + 1` (plus what could refill during the round
 * trip) mean someone else shares the bucket. A 429 always pulls it down.
 */
function syncTokens(
  bucket: Bucket,
  estimate: number,
  exact: boolean,
  throttled: boolean,
  roundTripRefill: number,
): void {
  if (throttled) bucket.tokens = Math.min(bucket.tokens, estimate);
  else if (bucket.tokens < estimate) bucket.tokens = estimate;
  else if (exact && bucket.tokens >= estimate + 1 + roundTripRefill) bucket.tokens = estimate;
}
