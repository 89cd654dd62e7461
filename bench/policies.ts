/** @module The policies documents the benchmark runs with (stack and peer rig), and the accuracy bucket. */
import { type PoliciesDocument, parsePolicies } from "../workers/policies";

/** The accuracy scenario's bucket: capacity C and refill r tokens per second. */
export const ACCURACY_LIMIT = { capacity: 10, refillPerSec: 2 } as const;

// Large enough that nothing is ever denied during a run, so throughput figures are all decisions.
const HUGE = { capacity: 1_000_000_000, refill: "1000000/s" };
// Timeouts well above any queueing delay on a loaded 2-core machine, failing closed: a slow answer shows
// up as a 503 (not counted as a decision) instead of a fast, free fail-open.
const STRICT = { onError: "closed", timeoutMs: 1000 } as const;

/**
 * The stack's document: `/bench/*` never denies (overhead, scaling), `/acc/*` is the accuracy bucket;
 * both keyed by the `X-Client` header, since NGINX gives every request the same `CF-Connecting-IP`.
 *
 * @example
 * await startStack({ policies: JSON.stringify(STACK_POLICIES) });
 */
export const STACK_POLICIES: PoliciesDocument = {
  prefix: "bench",
  policies: {
    huge: { limits: [{ name: "burst", ...HUGE }], ...STRICT },
    // The same bucket decided per request: what leases are measured against.
    "huge-no-lease": { limits: [{ name: "burst", ...HUGE }], ...STRICT, lease: "off" },
    // One token an hour: a client's second request is denied, every later one comes from the denied cache.
    tiny: { limits: [{ name: "burst", capacity: 1, refill: "1/h" }], ...STRICT },
    acc: {
      limits: [
        {
          name: "burst",
          capacity: ACCURACY_LIMIT.capacity,
          refill: `${ACCURACY_LIMIT.refillPerSec}/s`,
        },
      ],
      ...STRICT,
    },
    // The same bucket decided by the caller's clock (each isolate's Date.now()): bench/clocks.ts.
    "acc-caller": {
      limits: [
        {
          name: "burst",
          capacity: ACCURACY_LIMIT.capacity,
          refill: `${ACCURACY_LIMIT.refillPerSec}/s`,
        },
      ],
      ...STRICT,
      clock: "caller",
    },
  },
  routes: [
    { path: "/bench/*", policy: "huge", key: "header:x-client" },
    { path: "/acc-caller/*", policy: "acc-caller", key: "header:x-client" },
    { path: "/nolease/*", policy: "huge-no-lease", key: "header:x-client" },
    { path: "/acc/*", policy: "acc", key: "header:x-client" },
    { path: "/denied/*", policy: "tiny", key: "header:x-client" },
  ],
};

/**
 * The peer rig's document (bench/peer-worker.ts serves `/ours/<policy>` and `/peer/<policy>`):
 * `huge` (one limit), `huge2` (two limits: a second and a day), `tiny` (1 token, refilled hourly: the
 * second request of a key is denied, the third is answered by the denied cache).
 *
 * @example
 * await startPeerRig(JSON.stringify(PEER_POLICIES));
 */
export const PEER_POLICIES: PoliciesDocument = {
  prefix: "ours",
  policies: {
    huge: { limits: [{ name: "burst", ...HUGE }], ...STRICT },
    huge2: {
      limits: [
        { name: "second", ...HUGE },
        { name: "day", capacity: 50_000_000, refill: "50000000/d" },
      ],
      ...STRICT,
    },
    tiny: { limits: [{ name: "burst", capacity: 1, refill: "1/h" }], ...STRICT },
    // `huge` decided per request, for the far-store scenario's comparison with leases.
    "huge-no-lease": { limits: [{ name: "burst", ...HUGE }], ...STRICT, lease: "off" },
  },
  routes: [],
};

/**
 * Validates both documents up front, so a bad one fails the run with the schema's message, not as 500s.
 *
 * @example
 * assertBenchPolicies();
 */
export function assertBenchPolicies(): void {
  for (const [name, doc] of [
    ["STACK_POLICIES", STACK_POLICIES],
    ["PEER_POLICIES", PEER_POLICIES],
  ] as const) {
    const parsed = parsePolicies(doc);
    if (!parsed.ok) throw new Error(`bench/policies.ts ${name}: ${parsed.error}`);
  }
}
