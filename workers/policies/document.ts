/** @module The policies document's types: as written (optional fields may be left out) and once validated. */
import type { RefillRate } from "./refill";

/** Where a request's identity comes from: the client IP, or a request header such as an API key. */
export type KeySource = { kind: "ip" } | { kind: "header"; name: string };

/** One limit as written: `refill` is `"<tokens>/<period>"`. */
export interface LimitDocument {
  name: string;
  capacity: number;
  refill: string;
}
/**
 * The share of each limit an isolate may admit on its own while the store is unavailable (`onError:
 * "local"`): a fraction of every limit (capacity and refill), or an absolute budget of tokens per isolate
 * (each limit's capacity capped at it, its refill scaled alike).
 */
export type LocalShareDocument = number | { fraction: number } | { tokens: number };
/** The local share once validated: the fraction of each limit's capacity and refill, or whole tokens. */
export type LocalShare = { kind: "fraction"; fraction: number } | { kind: "tokens"; tokens: number };

/** A policy as written: optional fields may be left out. */
export interface PolicyDocument {
  limits: LimitDocument[];
  onError?: "open" | "closed" | "local";
  /** Required with `onError: "local"`, refused otherwise. */
  localShare?: LocalShareDocument;
  /** Which clock decides: the store's `TIME` (default; the caller's when the store refuses it) or the caller's. */
  clock?: "store" | "caller";
  mode?: "enforce" | "shadow";
  timeoutMs?: number;
  maxWaitMs?: number;
  lease?: "auto" | "off";
}
/** A route as written: `key` and `fallback` are `"ip"` or `"header:<name>"`. */
export interface RouteDocument {
  path: string;
  methods?: string[];
  policy: string;
  key: string;
  fallback?: string;
  cost?: number;
}
/** The policies document as written: optional fields may be left out. */
export interface PoliciesDocument {
  prefix?: string;
  policies: Record<string, PolicyDocument>;
  routes: RouteDocument[];
  cors?: { origins: "*" | string[] };
}

export interface ValidatedLimit {
  name: string;
  capacity: number;
  refill: RefillRate;
}
export interface ValidatedPolicy {
  limits: ValidatedLimit[];
  onError: "open" | "closed" | "local";
  localShare: LocalShare | undefined;
  clock: "store" | "caller";
  mode: "enforce" | "shadow";
  timeoutMs: number;
  /** Absent, it is DEFAULT_MAX_WAIT_MS or timeoutMs, whichever is longer (see compile.ts). */
  maxWaitMs: number | undefined;
  lease: "auto" | "off";
}
export interface ValidatedRoute {
  path: string;
  methods: string[] | undefined;
  policy: string;
  key: KeySource;
  fallback: KeySource | undefined;
  cost: number;
}
/** The policies document once validated: defaults filled in, refill rates and key sources parsed. */
export interface ValidatedPoliciesDocument {
  prefix: string;
  policies: Record<string, ValidatedPolicy>;
  routes: ValidatedRoute[];
  cors: { origins: "*" | string[] } | undefined;
}
