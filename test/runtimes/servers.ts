/** @module The README example served by each runtime Hono runs on, from an app that installed the packed package. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EdgeRuntime, runServer } from "edge-runtime";
import { build, transform } from "esbuild";
import { Miniflare } from "miniflare";
import { freePort, type ManagedProcess, REPO_ROOT, spawnManaged, waitUntil } from "../../local/support";

/** The runtimes the package is tested on. */
export const RUNTIMES = ["workerd", "edge-runtime", "deno", "bun", "node"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** One runtime serving the app on loopback. */
export interface RuntimeServer {
  url: string;
  stop(): Promise<void>;
}

// Each runtime's own way to serve a Hono app, as Hono's docs show it. `app.ts` is the README example as is.
const ENTRIES = {
  // Vercel's Edge Runtime: a FetchEvent handler; the event is Hono's execution context (its waitUntil).
  edge: `import app from "./app.ts";
addEventListener("fetch", (event) => event.respondWith(app.fetch(event.request, {}, event)));
`,
  deno: `import app from "./app.ts";
Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")), onListen() {} }, app.fetch);
`,
  bun: `import app from "./app.ts";
Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.PORT), fetch: app.fetch });
`,
  // Node: the example compiled to plain JS (as tsc would), served by @hono/node-server.
  node: `import { serve } from "@hono/node-server";
import app from "./app.js";
serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.env.PORT) });
`,
} as const;

/**
 * Bundles `entry` from `dir` the way the runtime's own tooling does (its export conditions, ES2022).
 *
 * @example
 * const script = await bundle(app.dir, "app.ts", ["workerd", "worker", "browser"], "esm");
 */
export async function bundle(dir: string, entry: string, conditions: string[], format: "esm" | "iife") {
  const out = await build({
    entryPoints: [join(dir, entry)],
    absWorkingDir: dir,
    bundle: true,
    format,
    platform: "browser",
    conditions,
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0]?.text ?? "";
}

/** workerd through Miniflare, on a bundle made as wrangler makes it (workerd/worker/browser conditions). */
async function startWorkerd(dir: string): Promise<RuntimeServer> {
  const script = await bundle(dir, "app.ts", ["workerd", "worker", "browser"], "esm");
  const port = await freePort();
  // No nodejs_compat flag: the package needs nothing of Node.
  const mf = new Miniflare({
    script,
    modules: true,
    compatibilityDate: "2026-04-01",
    host: "127.0.0.1",
    port,
  });
  await mf.ready;
  return { url: `http://127.0.0.1:${port}`, stop: () => mf.dispose() };
}

/** Vercel's Edge Runtime (the `edge-runtime` package) on a bundle with Vercel's edge-light condition. */
async function startEdgeRuntime(dir: string): Promise<RuntimeServer> {
  writeFileSync(join(dir, "edge.ts"), ENTRIES.edge);
  const initialCode = await bundle(dir, "edge.ts", ["edge-light", "worker", "browser"], "iife");
  const runtime = new EdgeRuntime({ initialCode });
  const server = await runServer({ runtime, host: "127.0.0.1", port: await freePort() });
  return { url: server.url.replace(/\/$/, ""), stop: () => server.close() };
}

/** A runtime as a child process in the app's folder, ready once it answers HTTP at all. */
async function startProcess(
  dir: string,
  name: RuntimeName,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<RuntimeServer> {
  const port = await freePort();
  const child: ManagedProcess = spawnManaged(name, command, args, {
    cwd: dir,
    env: { ...process.env, ...env, PORT: String(port), NO_COLOR: "1" },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(`${name} serves ${url}`, () => fetch(url).then(() => true), {
      timeoutMs: 30_000,
      intervalMs: 100,
      process: child,
    });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url, stop: () => child.stop() };
}

const bin = (name: string) => join(REPO_ROOT, "node_modules", ".bin", name);

/**
 * Starts `name` serving `<dir>/app.ts` (the README example) with `dir`'s node_modules (the packed package).
 *
 * @example
 * const server = await startRuntime("deno", app.dir);
 * await fetch(`${server.url}/api/hello`, { headers: { "x-api-key": "k" } });
 * await server.stop();
 */
export async function startRuntime(name: RuntimeName, dir: string): Promise<RuntimeServer> {
  switch (name) {
    case "workerd":
      return startWorkerd(dir);
    case "edge-runtime":
      return startEdgeRuntime(dir);
    case "deno":
      writeFileSync(join(dir, "deno.ts"), ENTRIES.deno);
      // package.json + node_modules: Deno resolves npm packages from the app's node_modules, no download.
      return startProcess(
        dir,
        name,
        bin("deno"),
        ["run", "--allow-net", "--allow-env", "--allow-read", "deno.ts"],
        {
          DENO_DIR: join(dir, ".deno"),
          DENO_NO_UPDATE_CHECK: "1",
        },
      );
    case "bun":
      writeFileSync(join(dir, "bun.ts"), ENTRIES.bun);
      return startProcess(dir, name, bin("bun"), ["--no-install", "bun.ts"], {
        BUN_INSTALL_CACHE_DIR: join(dir, ".bun"),
      });
    case "node": {
      const compiled = await transform(readFileSync(join(dir, "app.ts"), "utf8"), {
        loader: "ts",
        format: "esm",
        target: "node20",
      });
      writeFileSync(join(dir, "app.js"), compiled.code);
      writeFileSync(join(dir, "node.mjs"), ENTRIES.node);
      return startProcess(dir, name, process.execPath, ["node.mjs"], {});
    }
  }
}
