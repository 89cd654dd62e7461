/** @module `npm run build`: the worker bundle (wrangler's own build), the package's JS and its type declarations. */
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { build } from "esbuild";

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, {
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "warn" },
  });
  if (result.status !== 0) {
    console.error(`build: ${command} ${args.join(" ")} failed (exit ${result.status})`);
    process.exit(1);
  }
}

await rm("dist", { recursive: true, force: true });

// The bundle Miniflare runs locally is exactly what `wrangler deploy` would upload.
run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", "dist/worker"]);

// The package exports: plain ESM for Node and bundlers, the Lua script inlined as text.
await build({
  entryPoints: { index: "workers/index.ts" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  loader: { ".lua": "text" },
  external: ["hono", "hono/*", "@upstash/redis", "@upstash/redis/*", "zod"],
  logLevel: "warning",
});
run("npx", ["tsc", "-p", "tsconfig.build.json"]);
console.log("build: dist/worker/worker.js (worker), dist/index.js (package), dist/types (declarations)");
