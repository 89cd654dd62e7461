/** @module The demo's routes and policies, merged into whatever document the stack runs with. */
import type { PoliciesDocument } from "../../../workers/policies";

// A generous Redis timeout: under a cold 60-request burst on two cores the default 50 ms would fail open,
// and a fail-open answer is neither an allowed nor a denied count of the bucket the demo is showing.
const bucket = { limits: [{ name: "burst", capacity: 10, refill: "5/s" }], timeoutMs: 5000 };

/** Two identical buckets, so the plain-fetch burst and the client burst don't drain each other. */
export const DEMO_POLICIES = {
  "demo-plain": bucket,
  "demo-client": bucket,
} satisfies PoliciesDocument["policies"];

export const DEMO_ROUTES = [
  { path: "/demo-api/plain/*", policy: "demo-plain", key: "ip" },
  { path: "/demo-api/client/*", policy: "demo-client", key: "ip" },
] satisfies PoliciesDocument["routes"];

/**
 * `document` plus the demo's policies and routes (first, so they win) and the page's origin in CORS.
 *
 * @example
 * const merged = withDemo(DEFAULT_POLICIES, "http://127.0.0.1:8081");
 */
export function withDemo(document: PoliciesDocument, pageOrigin: string): PoliciesDocument {
  const origins = document.cors?.origins;
  const cors =
    origins === "*" || (Array.isArray(origins) && origins.includes("*"))
      ? document.cors
      : { origins: [...(origins ?? []), pageOrigin] };
  return {
    ...document,
    policies: { ...DEMO_POLICIES, ...document.policies },
    routes: [...DEMO_ROUTES, ...(document.routes ?? [])],
    cors,
  };
}
