/** @module The built-in policies document: what the worker enforces when no POLICIES variable is set. */
import type { PoliciesDocument } from "./schema";

/**
 * A per-IP burst limit for everything, and for `/api/*` (GET and POST) a per-API-key limit of 20 with
 * 10/s refill plus 10 000 a day. Plain data, so it can be serialised, copied and edited.
 *
 * @example
 * const doc = structuredClone(DEFAULT_POLICIES);
 * doc.routes.unshift({ path: "/login", methods: ["POST"], policy: "default", key: "ip", cost: 5 });
 */
export const DEFAULT_POLICIES = {
  prefix: "erl",
  policies: {
    default: { limits: [{ name: "burst", capacity: 10, refill: "5/s" }], onError: "open" },
    api: {
      limits: [
        { name: "second", capacity: 20, refill: "10/s" },
        { name: "day", capacity: 10000, refill: "10000/d" },
      ],
      onError: "closed",
      mode: "enforce",
    },
  },
  routes: [
    { path: "/api/*", methods: ["GET", "POST"], policy: "api", key: "header:x-api-key", cost: 1 },
    { path: "/*", policy: "default", key: "ip" },
  ],
} satisfies PoliciesDocument;

/** {@link DEFAULT_POLICIES} as JSON text, the form the `POLICIES` variable takes. */
// Pure: an app that never reads it leaves it (and DEFAULT_POLICIES) out of its bundle.
export const DEFAULT_POLICIES_JSON: string = /* @__PURE__ */ JSON.stringify(DEFAULT_POLICIES, null, 2);
