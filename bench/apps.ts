/** @module The README's middleware example, the same app on @upstash/ratelimit and on nothing, bundled as wrangler would. */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

/** Bytes of one app's bundle: as built, gzipped, minified, minified and gzipped. */
export interface BundleSizes {
  raw: number;
  gzip: number;
  minified: number;
  minifiedGzip: number;
  /** Minified bytes per npm package in the bundle (the app's own code under "app"). */
  packages: Record<string, number>;
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
  redis: () => (redis ??= new Redis({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(token)}, enableAutoPipelining: false, responseEncoding: false, automaticDeserialization: false, readYourWrites: false, enableTelemetry: false })),
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
 * `npm pack` of the repo (its `dist` must be built), unpacked into `<dir>/node_modules` as `npm install` of
 * the tarball would; `dir` gets a package.json of its own, so imports of `edge-rate-limiter` from it reach
 * the packed copy, not the repo (which has that name too).
 *
 * @example
 * await installPacked(repoRoot, dir);
 */
export async function installPacked(repoRoot: string, dir: string): Promise<void> {
  await writeFile(
    join(dir, "package.json"),
    '{ "name": "cold-start-app", "private": true, "type": "module" }\n',
  );
  const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: repoRoot,
    encoding: "utf8",
  }).trim();
  const target = join(dir, "node_modules", "edge-rate-limiter");
  await mkdir(target, { recursive: true });
  execFileSync("tar", ["-xzf", join(dir, tarball), "-C", target, "--strip-components=1"]);
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

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  // The apps themselves live under node_modules/.cache (see cold-start.ts): a dot-name is no package.
  const name = match?.[1];
  return name && !name.startsWith(".") ? name : "app";
}

async function bundle(
  entry: string,
  minify: boolean,
  outfile?: string,
): Promise<{ code: Uint8Array; packages: Record<string, number> }> {
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
    metafile: true,
    outfile: outfile ?? "bundle.js",
    logLevel: "warning",
  });
  const code = out.outputFiles[0]?.contents ?? new Uint8Array();
  if (outfile) await writeFile(outfile, code);
  const packages: Record<string, number> = {};
  for (const output of Object.values(out.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input);
      packages[name] = (packages[name] ?? 0) + bytesInOutput;
    }
  }
  return { code, packages };
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
  const raw = (await bundle(join(dir, `${app}.js`), false)).code;
  const min = await bundle(join(dir, `${app}.js`), true, minifiedPath);
  return {
    sizes: {
      raw: raw.byteLength,
      gzip: gzipSync(raw).byteLength,
      minified: min.code.byteLength,
      minifiedGzip: gzipSync(min.code).byteLength,
      packages: min.packages,
    },
    minifiedPath,
  };
}
