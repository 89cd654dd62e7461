/** @module Scenario 12, cold start: the README's example app on the packed package vs @upstash/ratelimit — bytes and first response. */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { startEdge, WORKER_BUNDLE } from "../../local/stack";
import { REPO_ROOT, startRedis } from "../../local/support";
import type { Env } from "../../workers/config";
import { type AppName, type BundleSizes, bundleApp, installPacked, writeApps } from "../apps";
import { type BenchContext, median, onInterrupt, spawnProxy } from "../support";

/** One app's figures. */
export interface ColdStartSide {
  name: AppName;
  sizes: BundleSizes;
  /** Minified bytes beyond the bare Hono app: what the limiter costs the app. */
  addedMinified: number;
  /** Each start: a fresh workerd until the first `/api/hello` answered (ms). */
  startsMs: number[];
  coldStartMs: number;
  /** Median CPU time to import the minified bundle in a fresh Node process (V8 load + evaluation). */
  evaluationCpuMs: number;
  firstStatus: number;
}

export interface ColdStartResult {
  sides: ColdStartSide[];
  /** The project's own worker, dist/worker/worker.js, as `npm run build` writes it. */
  workerBytes: number;
  starts: number;
}

// CPU time, not wall time: on shared cores, other work stretches the wall clock far more than the import.
function evaluationCpuMs(path: string, runs: number): number {
  const script = `const c = process.cpuUsage(); await import(${JSON.stringify(path)}); const d = process.cpuUsage(c); console.log((d.user + d.system) / 1000);`;
  const times = Array.from({ length: runs }, () =>
    Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })),
  );
  return median(times);
}

async function freshEdge(scriptPath: string): Promise<Awaited<ReturnType<typeof startEdge>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEdge({ scriptPath, bindings: {} as Env });
    } catch (error) {
      // A free port can be taken by another process between the check and workerd's bind: try another.
      if ((error as { code?: string }).code !== "ERR_ADDRESS_IN_USE" || attempt === 3) throw error;
    }
  }
}

async function firstResponse(scriptPath: string): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const edge = await freshEdge(scriptPath);
  try {
    const res = await fetch(`${edge.url}/api/hello`, { headers: { "x-api-key": "cold" } });
    await res.arrayBuffer();
    return { ms: performance.now() - started, status: res.status };
  } finally {
    await edge.stop();
  }
}

/**
 * Bundles the three apps and starts each minified bundle in a fresh workerd several times, alternating.
 *
 * @example
 * const coldStart = await runColdStart(ctx);
 */
export async function runColdStart(
  ctx: BenchContext,
  options: { packFrom?: string } = {},
): Promise<ColdStartResult> {
  const starts = ctx.quick ? 3 : 7;
  // Inside the repo (workerd refuses module paths outside its working directory); its own package.json
  // keeps the apps from resolving `edge-rate-limiter` to the repo itself rather than the packed copy.
  const cache = join(REPO_ROOT, "node_modules", ".cache");
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(join(cache, "erl-bench-cold-"));
  const redis = await startRedis();
  const proxy = await spawnProxy(redis.url);
  const stop = async () => {
    await proxy.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const forget = onInterrupt(stop);
  try {
    // packFrom: another checkout's package (built), for a before/after comparison in one run.
    await installPacked(options.packFrom ?? REPO_ROOT, dir);
    await writeApps(dir, proxy.url, proxy.token);
    const names: AppName[] = ["bare", "ours", "peer"];
    const built = await Promise.all(names.map((name) => bundleApp(dir, name)));
    const bareMinified = built[0]?.sizes.minified ?? 0;
    ctx.log(
      `cold start: bundles ${names.map((n, i) => `${n} ${built[i]?.sizes.minified} B`).join(", ")} (minified)`,
    );
    const times = new Map<AppName, { ms: number; status: number }[]>(names.map((n) => [n, []]));
    // One unmeasured start each: the first EVALSHA of a fresh Redis loads the scripts.
    for (const i of names.keys()) await firstResponse(built[i]?.minifiedPath ?? "");
    for (let round = 0; round < starts; round++) {
      for (const [i, name] of names.entries())
        times.get(name)?.push(await firstResponse(built[i]?.minifiedPath ?? ""));
    }
    const sides = names.map((name, i): ColdStartSide => {
      const runs = times.get(name) ?? [];
      const b = built[i] as { sizes: BundleSizes; minifiedPath: string };
      return {
        name,
        sizes: b.sizes,
        addedMinified: b.sizes.minified - bareMinified,
        startsMs: runs.map((r) => Math.round(r.ms * 10) / 10),
        coldStartMs: median(runs.map((r) => r.ms)),
        evaluationCpuMs: evaluationCpuMs(b.minifiedPath, Math.max(5, starts)),
        firstStatus: runs[0]?.status ?? 0,
      };
    });
    return { sides, workerBytes: statSync(WORKER_BUNDLE).size, starts };
  } finally {
    forget();
    await stop();
  }
}
