/** @module The README's middleware example, the same app on @upstash/ratelimit and on nothing, bundled as wrangler would. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

/** Bytes of one app's bundle: as built, gzipped, minified, minified and gzipped. */
export interface BundleSizes {
  raw: number;
  gzip: number;
  minified: number;
  minifiedGzip: number;
}

/** The apps compared: `ours` is the README example verbatim but for the store's URL and token. */
export type AppName = "ours" | "peer" | "bare";

const HELLO = `app.get("/api/hello", (c) => c.json({ hello: c.get("rateLimit")?.result?.limits[0]?.remaining }));`;

function ours(url: string, token: string): string {
  return `import { Hono } from "hono";
import { Redis } from "@upstash/redis/cloudflare";
import { createLimiter, parsePolicies, rateLimit } from "edge-rate-limiter";

const policies = parsePolicies({
  policies: { api: { limits: [{ name: "second", capacity: 20, refill: "10/s" }, { name: "day", capacity: 10000, refill: "10000/d" }] } },
  routes: [],
});
if (!policies.ok) throw new Error(policies.error);

let redis;
const limiter = createLimiter({
  policies: policies.value,
  redis: () => (redis ??= new Redis({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(token)}, enableAutoPipelining: false })),
});

const app = new Hono();
app.use("/api/*", rateLimit({ limiter, policy: "api", key: (c) => c.req.header("x-api-key") }));
${HELLO}
export default app;
`;
}

// The same limits with the peer: one Ratelimit per limit (it has no multi-limit call), created on first use.
function peer(url: string, token: string): string {
  return `import { Hono } from "hono";
import { Redis } from "@upstash/redis/cloudflare";
import { Ratelimit } from "@upstash/ratelimit";

let limits;
function limiters() {
  const redis = new Redis({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(token)}, enableAutoPipelining: false });
  return (limits ??= [
    new Ratelimit({ redis, limiter: Ratelimit.tokenBucket(10, "1 s", 20), prefix: "cold:second" }),
    new Ratelimit({ redis, limiter: Ratelimit.tokenBucket(10000, "1 d", 10000), prefix: "cold:day" }),
  ]);
}

const app = new Hono();
app.use("/api/*", async (c, next) => {
  const key = c.req.header("x-api-key") ?? "anonymous";
  const results = await Promise.all(limiters().map((limiter) => limiter.limit(key)));
  if (!results.every((r) => r.success)) return c.json({ error: "rate limited" }, 429);
  c.set("rateLimit", { result: { limits: results } });
  await next();
});
${HELLO}
export default app;
`;
}

function bare(): string {
  return `import { Hono } from "hono";\n\nconst app = new Hono();\n${HELLO}\nexport default app;\n`;
}

/**
 * Writes the three apps into `dir` (which must resolve `edge-rate-limiter`, hono and the Upstash packages).
 *
 * @example
 * await writeApps(dir, "http://127.0.0.1:8079", "token");
 */
export async function writeApps(dir: string, url: string, token: string): Promise<void> {
  await writeFile(join(dir, "ours.js"), ours(url, token));
  await writeFile(join(dir, "peer.js"), peer(url, token));
  await writeFile(join(dir, "bare.js"), bare());
}

async function bundle(entry: string, minify: boolean, outfile?: string): Promise<Uint8Array> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    // What wrangler does for workerd: the workerd/worker/browser export conditions, ES2022.
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    minify,
    loader: { ".lua": "text" },
    write: false,
    logLevel: "warning",
  });
  const code = out.outputFiles[0]?.contents ?? new Uint8Array();
  if (outfile) await writeFile(outfile, code);
  return code;
}

/**
 * Bundles one app written by {@link writeApps}; the minified bundle is also written to `<app>.min.js`.
 *
 * @example
 * const { sizes, minifiedPath } = await bundleApp(dir, "ours");
 */
export async function bundleApp(
  dir: string,
  app: AppName,
): Promise<{ sizes: BundleSizes; minifiedPath: string }> {
  const minifiedPath = join(dir, `${app}.min.js`);
  const raw = await bundle(join(dir, `${app}.js`), false);
  const min = await bundle(join(dir, `${app}.js`), true, minifiedPath);
  return {
    sizes: {
      raw: raw.byteLength,
      gzip: gzipSync(raw).byteLength,
      minified: min.byteLength,
      minifiedGzip: gzipSync(min).byteLength,
    },
    minifiedPath,
  };
}
