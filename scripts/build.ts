/** @module `npm run build`: the worker bundle (wrangler's own build), the package's JS and its type declarations. */
import { spawnSync } from "node:child_process";
import { mkdir, rename, rm } from "node:fs/promises";
import { build } from "esbuild";
import { NODE_PARTS } from "../local/support";
import { luaAsTextForEsbuild } from "../local/support/lua-loader/vite";
import { buildDeclarations } from "./declarations";

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

// The bundle Miniflare runs locally is exactly what `wrangler deploy` would upload. It is built aside and
// swapped in, so instances running from dist/worker (a stack, another suite) never see a half-written one.
await mkdir("dist", { recursive: true });
const fresh = `dist/.worker-${process.pid}`;
const old = `dist/.worker-old-${process.pid}`;
run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", fresh]);
await rename("dist/worker", old).catch(() => undefined);
await rename(fresh, "dist/worker");
await rm(old, { recursive: true, force: true });

// The package exports: plain ESM for Node and bundlers, the Lua script inlined as text.
await build({
  entryPoints: { index: "workers/index.ts", client: "client/index.ts" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  plugins: [luaAsTextForEsbuild()],
  external: ["hono", "hono/*", "@upstash/redis", "@upstash/redis/*", "valibot"],
  logLevel: "warning",
});
// The stack's long-running Node parts as plain JS: a restart under load then costs a process start, not
// a full TypeScript transform competing with the traffic for the CPU.
await build({
  entryPoints: NODE_PARTS,
  outdir: "dist/local",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
// Declarations per entry under its own target (Workers types, DOM), with the explicit `.js` specifiers
// Node's ESM resolution (TypeScript's node16/nodenext) needs.
await buildDeclarations(process.cwd());
console.log(
  "build: dist/worker/worker.js (worker), dist/index.js + dist/client.js (package), dist/local (stack processes), dist/types (declarations)",
);
