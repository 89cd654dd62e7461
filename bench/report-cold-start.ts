/** @module docs/benchmarks.md's section for scenario 12 (cold start): bundle bytes, first response, evaluation. */
import { fmt, int, table } from "./markdown";
import type { BenchResults } from "./results";

const LABELS = {
  bare: "Hono alone (no limiter)",
  ours: "edge-rate-limiter (packed)",
  peer: "@upstash/ratelimit",
};

/**
 * The section's Markdown blocks.
 *
 * @example
 * lines.push(...coldStartSection(results.coldStart));
 */
export function coldStartSection(c: BenchResults["coldStart"]): string[] {
  return [
    "## 12. Cold start — the README's example app, ours vs `@upstash/ratelimit`",
    `The README's middleware example built against the \`npm pack\`ed package, the same app (same two limits, Hono, \`@upstash/redis/cloudflare\`) on \`@upstash/ratelimit\` \`tokenBucket\`, and the bare Hono app, bundled as wrangler does (esbuild, workerd conditions). Cold start: a fresh workerd (Miniflare) started on the minified bundle until its first \`GET /api/hello\` (one decision by the store) answered, median of ${c.starts} starts per app, apps alternating. Evaluation: CPU time to import the minified bundle in a fresh Node process (V8 load + evaluation, the README example's module-scope \`parsePolicies\` and \`createLimiter\` included), median. The project's own worker (\`dist/worker/worker.js\`, minified): ${c.workerBytes.toLocaleString("en-US")} bytes.`,
    table(
      [
        "app",
        "bundle (B)",
        "gzip",
        "minified",
        "minified gzip",
        "minified beyond Hono",
        "cold start (ms)",
        "evaluation CPU (ms)",
      ],
      c.sides.map((s) => [
        LABELS[s.name],
        int(s.sizes.raw),
        int(s.sizes.gzip),
        int(s.sizes.minified),
        int(s.sizes.minifiedGzip),
        int(s.addedMinified),
        `${fmt(s.coldStartMs, 0)} (${s.startsMs.map((m) => m.toFixed(0)).join(", ")})`,
        fmt(s.evaluationCpuMs, 1),
      ]),
    ),
  ];
}
