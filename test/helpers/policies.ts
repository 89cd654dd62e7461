/** @module The policies document the edge suites run with: one route per behaviour under test. */

export const TEST_ORIGIN = "http://app.example";

export const TEST_POLICIES = {
  prefix: "test",
  policies: {
    // 5 tokens, one more per minute: nothing refills during a test.
    slow: { limits: [{ name: "burst", capacity: 5, refill: "1/m" }] },
    multi: {
      limits: [
        { name: "second", capacity: 4, refill: "2/s" },
        { name: "hour", capacity: 3, refill: "3/h" },
      ],
    },
    open: { limits: [{ name: "burst", capacity: 5, refill: "1/m" }], onError: "open", timeoutMs: 50 },
    closed: { limits: [{ name: "burst", capacity: 5, refill: "1/m" }], onError: "closed", timeoutMs: 50 },
    shadow: { limits: [{ name: "burst", capacity: 2, refill: "1/m" }], mode: "shadow" },
    api: {
      limits: [
        { name: "second", capacity: 20, refill: "10/s" },
        { name: "day", capacity: 10000, refill: "10000/d" },
      ],
    },
  },
  routes: [
    { path: "/slow/*", policy: "slow", key: "ip" },
    { path: "/costly/*", policy: "slow", key: "ip", cost: 6 },
    { path: "/multi/*", policy: "multi", key: "header:x-api-key" },
    { path: "/keyed/*", policy: "slow", key: "header:x-api-key", fallback: "ip" },
    { path: "/open/*", policy: "open", key: "ip" },
    { path: "/closed/*", policy: "closed", key: "ip" },
    { path: "/shadow/*", policy: "shadow", key: "ip" },
    { path: "/api/*", methods: ["GET", "POST"], policy: "api", key: "ip" },
  ],
  cors: { origins: [TEST_ORIGIN] },
};
