/** @module Scenario 13: the edge path's cost per request, in workerd, in-process — the README app with and without the limiter, a stubbed store. */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { luaAsTextForEsbuild } from "../../local/support/lua-loader/vite";
import { type BenchContext, median } from "../support";
import { CONFIGS, type MicroConfig, type RunReport } from "./configs";

/** One configuration's figures: medians over the rounds. */
export interface MicroRow {
  name: string;
  label: string;
  /** Microseconds of isolate time per request (wall clock inside workerd, single-threaded). */
  usPerRequest: number;
  /** This configuration minus (a), the app without the limiter, per round, then the median. */
  minusBareUs: number;
  /** Decisions by source over the measured rounds: proves what each configuration exercised. */
  sources: Record<string, number>;
  unexpected: number;
}

export interface MicroResult {
  rounds: number;
  requestsPerRun: number;
  batch: number;
  rows: MicroRow[];
}

export interface MicroOptions {
  rounds: number;
  requests: number;
  /** Requests per timed batch (a lease holds up to 1 000 tokens, topped up between batches). */
  batch?: number;
  /** Also measure each cheap `@upstash/redis` option alone (the non-core configurations). */
  clientOptions?: boolean;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [here(entry)],
    bundle: true,
    format: "esm",
    // As wrangler bundles for workerd: the workerd/worker/browser conditions, the Lua script as text.
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    // The Lua as the package ships it (minified), as every suite runs it.
    plugins: [luaAsTextForEsbuild()],
    write: false,
    logLevel: "warning",
  });
  return out.outputFiles[0]?.text ?? "";
}

/**
 * workerd with two workers: the bench worker (bench/micro/worker.ts), whose every outbound `fetch` goes
 * to the store stub (bench/micro/store-stub.ts) inside the same process: no socket, no Redis.
 */
async function startWorkerd(): Promise<Miniflare> {
  const [worker, stub] = await Promise.all([bundle("./worker.ts"), bundle("./store-stub.ts")]);
  const miniflare = new Miniflare({
    workers: [
      {
        name: "micro",
        modules: true,
        script: worker,
        compatibilityDate: "2026-04-01",
        outboundService: "store",
      },
      { name: "store", modules: true, script: stub, compatibilityDate: "2026-04-01" },
    ],
  });
  await miniflare.ready;
  return miniflare;
}

async function runOnce(
  miniflare: Miniflare,
  config: MicroConfig,
  n: number,
  batch: number,
): Promise<RunReport> {
  const response = await miniflare.dispatchFetch(
    `http://micro.bench/run?config=${config.name}&n=${n}&batch=${batch}`,
  );
  const text = await response.text();
  if (response.status !== 200) throw new Error(`micro: ${config.name}: ${response.status} ${text}`);
  const report = JSON.parse(text) as RunReport;
  if (report.unexpected > 0)
    throw new Error(
      `micro: ${config.name}: ${report.unexpected} of ${n} requests had another status than ${config.status}`,
    );
  return report;
}

function addSources(total: Record<string, number>, more: Record<string, number>): void {
  for (const [source, count] of Object.entries(more)) total[source] = (total[source] ?? 0) + count;
}

/**
 * Measures every configuration in alternating rounds (the order rotates each round) and reports each
 * one's microseconds per request and its difference to (a) from the same round.
 *
 * @example
 * const result = await measureMicro({ rounds: 7, requests: 20_000 }, console.log);
 */
export async function measureMicro(options: MicroOptions, log: (line: string) => void): Promise<MicroResult> {
  const batch = options.batch ?? 200;
  const configs = CONFIGS.filter((c) => c.core || options.clientOptions);
  const miniflare = await startWorkerd();
  try {
    // Warm up: JIT, the lease's demand window (a key turns hot after half a second of traffic), the denial.
    for (const config of configs) await runOnce(miniflare, config, Math.min(options.requests, 4000), batch);
    const lease = configs.find((c) => c.name === "lease");
    for (let i = 0; lease && i < 10; i++) await runOnce(miniflare, lease, 2000, batch);
    const perRound = new Map<string, number[]>(configs.map((c) => [c.name, []]));
    const sources = new Map<string, Record<string, number>>(configs.map((c) => [c.name, {}]));
    const unexpected = new Map<string, number>();
    for (let round = 0; round < options.rounds; round++) {
      const order = configs.map((_, i) => configs[(i + round) % configs.length] as MicroConfig);
      const line: string[] = [];
      for (const config of order) {
        const report = await runOnce(miniflare, config, options.requests, batch);
        perRound.get(config.name)?.push(report.usPerRequest);
        addSources(sources.get(config.name) ?? {}, report.sources);
        unexpected.set(config.name, (unexpected.get(config.name) ?? 0) + report.unexpected);
        line.push(`${config.name} ${report.usPerRequest.toFixed(1)}`);
      }
      log(`micro round ${round + 1}/${options.rounds} (µs/request): ${line.join(", ")}`);
    }
    const bare = perRound.get("bare") ?? [];
    const rows = configs.map((config): MicroRow => {
      const values = perRound.get(config.name) ?? [];
      return {
        name: config.name,
        label: config.label,
        usPerRequest: round1(median(values)),
        minusBareUs: round1(median(values.map((v, i) => v - (bare[i] ?? Number.NaN)))),
        sources: sources.get(config.name) ?? {},
        unexpected: unexpected.get(config.name) ?? 0,
      };
    });
    return { rounds: options.rounds, requestsPerRun: options.requests, batch, rows };
  } finally {
    await miniflare.dispose();
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The scenario as `npm run bench` runs it: the core configurations (a)–(d).
 *
 * @example
 * const micro = await runMicro(ctx);
 */
export function runMicro(ctx: BenchContext): Promise<MicroResult> {
  ctx.log(
    "micro: the README app in workerd, in-process, stubbed store: (a) bare, (b) lease, (c) denied, (d) store",
  );
  return measureMicro({ rounds: ctx.quick ? 2 : 7, requests: ctx.quick ? 4000 : 20_000 }, ctx.log);
}
