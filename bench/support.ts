/** @module Shared benchmark plumbing: the run context, progress lines, build, machine facts, the proxy process. */
import { execFileSync, spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { ensureSystemDeps, type ProxyProcess, REPO_ROOT, startProxyProcess } from "../local/support";

/** What every scenario gets: the run's size and a progress logger. */
export interface BenchContext {
  quick: boolean;
  /** Seconds per wrk measurement. */
  seconds: number;
  /** Alternating measurement rounds per comparison (the median is reported). */
  rounds: number;
  /** wrk connections (the same for every side of a comparison). */
  connections: number;
  log(line: string): void;
}

/** Facts about the machine the figures came from. */
export interface MachineFacts {
  nproc: number;
  cpuModel: string;
  loadAverageAtStart: number[];
  node: string;
  redis: string;
  wrk: string;
  nginx: string;
  startedAt: string;
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * await sleep(100);
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The median of a non-empty list (mean of the middle two for even lengths).
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * `a / b` rounded to two decimals (NaN when b is 0).
 *
 * @example
 * ratio(1, 4); // 0.25
 */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : Math.round((a / b) * 100) / 100;
}

function versionOf(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  const text = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n")[0] ?? "";
  return result.status === null || result.error ? "not found" : text;
}

/**
 * Records `nproc`, the load average and tool versions at the start of a run.
 *
 * @example
 * const facts = machineFacts(); // { nproc: 2, loadAverageAtStart: [1.2, 0.9, 0.7], … }
 */
export function machineFacts(): MachineFacts {
  return {
    nproc: Number(execFileSync("nproc", { encoding: "utf8" }).trim()),
    cpuModel: cpus()[0]?.model ?? "unknown",
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
    node: process.version,
    redis: versionOf("redis-server", ["--version"]),
    wrk: versionOf("wrk", ["--version"]),
    nginx: versionOf("nginx", ["-v"]),
    startedAt: new Date().toISOString(),
  };
}

/**
 * Makes sure the programs the benchmark drives are installed (apt-get as root on Debian, as `npm test`
 * does); throws a message naming the packages otherwise.
 *
 * @example
 * requireTools(); // throws "bench: missing system programs: wrk; install them with: …"
 */
export function requireTools(): void {
  const deps = ensureSystemDeps(["wrk", "redis-benchmark", "redis", "nginx"]);
  if (!deps.ok) throw new Error(`bench: ${deps.error}`);
}

/**
 * `npm run build --silent`: the worker bundle the stack runs. Throws when the build fails.
 *
 * @example
 * buildWorker();
 */
export function buildWorker(): void {
  const result = spawnSync("npm", ["run", "build", "--silent"], { cwd: REPO_ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`bench: npm run build failed (exit ${result.status})`);
}

/**
 * Starts the REST proxy as its own Node process, as the stack does, so it never shares an event loop with
 * the benchmark driver; stopped on Ctrl-C too. Resolves once it answers with Redis connected.
 *
 * @example
 * const proxy = await spawnProxy(redis.url); // with --upstash-semantics, as everywhere
 * await proxy.stop();
 */
export async function spawnProxy(redisUrl: string, extraFlags: string[] = []): Promise<ProxyProcess> {
  const proxy = await startProxyProcess({ redisUrl, args: extraFlags, ready: "redis" });
  const forget = onInterrupt(() => proxy.process.stop());
  return {
    ...proxy,
    stop: async () => {
      forget();
      await proxy.stop();
    },
  };
}

const cleanups = new Set<() => Promise<unknown>>();

/**
 * Registers a stop function to run if the benchmark is interrupted (Ctrl-C, SIGTERM): the stacks'
 * children run in their own process groups and would otherwise outlive it. Returns an unregister function.
 *
 * @example
 * const forget = onInterrupt(() => stack.stop());
 * try { … } finally { await stack.stop(); forget(); }
 */
export function onInterrupt(stop: () => Promise<unknown>): () => void {
  cleanups.add(stop);
  return () => cleanups.delete(stop);
}

/**
 * Installs the SIGINT/SIGTERM handlers that run the registered stop functions, then exit 130.
 *
 * @example
 * installInterruptHandlers();
 */
export function installInterruptHandlers(): void {
  const handle = (signal: string) => {
    console.error(`bench: ${signal}: stopping what the benchmark started`);
    void Promise.allSettled([...cleanups].map((stop) => stop())).then(() => process.exit(130));
  };
  process.once("SIGINT", () => handle("SIGINT"));
  process.once("SIGTERM", () => handle("SIGTERM"));
}
