/** @module `npm run bench`: runs every scenario of issue 7 side by side and writes the JSON, Markdown and SVG report. */
import { readFlags } from "../local/support";
import { goals } from "./goals";
import { runMicro } from "./micro";
import { startPeerRig } from "./peer-rig";
import { assertBenchPolicies, PEER_POLICIES } from "./policies";
import { writeResults } from "./report";
import type { BenchResults } from "./results";
import { runAccuracy } from "./scenarios/accuracy";
import { runColdStart } from "./scenarios/cold-start";
import { runCommands } from "./scenarios/commands";
import { runFarStore } from "./scenarios/far-store";
import { runKeys } from "./scenarios/keys";
import { runMemory } from "./scenarios/memory";
import { runOverhead } from "./scenarios/overhead";
import { runOverload } from "./scenarios/overload";
import { runPeer } from "./scenarios/peer";
import { runProxyVsRedis } from "./scenarios/proxy";
import { runScaling } from "./scenarios/scaling";
import { runSingle } from "./scenarios/single";
import { startBenchStacks } from "./stacks";
import {
  type BenchContext,
  buildWorker,
  installInterruptHandlers,
  machineFacts,
  requireTools,
} from "./support";

const HELP = `Usage: npm run bench -- [--quick] [--no-build]

Measures, each as a ratio against a baseline from the same run (alternating rounds, medians):
  1. limiter overhead: the stack (NGINX → 3 workerd → proxy → Redis) with limiting on vs off
  2. REST proxy vs redis-benchmark: token-bucket EVALSHA, single and 10 per /pipeline
  3. peer: our limiter vs @upstash/ratelimit tokenBucket in the same worker (bench/peer-worker.ts)
  4. Redis commands per decision (allowed, denied, cached-denied), ours and the peer's
  5. accuracy under load: admitted per key vs C + r·t across all instances
  6. memory per active key in Redis, and expiry at time-to-full
  7. scaling: 1, 2, 3 instances
  8. one instance: limiting on vs off, and requests/s for an already-denied key
  9. overload: bursts of 250–2000 concurrent requests (one key, distinct keys) with default fail-mode
     settings, then Redis hung: admitted vs exact, decisions by fail mode, latency before/after the breaker
 10. key distributions (uniform 1 000, hot 10, Zipf s=1.0 over 10 000): leases on vs off vs limiting off,
     and store calls per decision
 11. a store 20 ms away each way: latency added to hot-key requests by leases, per-request decisions and
     @upstash/ratelimit
 12. cold start: the README's example app on the packed package vs the same app on @upstash/ratelimit —
     bundle bytes (raw, gzip, minified) and a fresh workerd's time to first response
 13. micro: the README app in workerd, in-process, stubbed store — µs per request for (a) no limiter,
     (b) a leased hot key, (c) a denied-cache 429, (d) a store-backed decision; each minus (a)
     (also on its own: npm run bench:micro)
Writes bench/results/<ISO date>.json, docs/benchmarks.md and docs/benchmarks-accuracy.svg.

Options:
  --quick      every scenario briefly (about 2 minutes; CI checks that it completes and writes its files)
  --no-build   skip \`npm run build\` (dist/worker/worker.js must exist)
  --help       show this text

Needs wrk, redis-server, redis-benchmark and nginx: as root on Debian/Ubuntu the missing ones are installed
with apt-get first, otherwise the message names the packages. Exits non-zero with a message on any failure.`;

function createContext(quick: boolean): BenchContext {
  const started = Date.now();
  return {
    quick,
    seconds: quick ? 2 : 8,
    rounds: quick ? 1 : 3,
    connections: 50,
    log(line) {
      const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
      console.log(`[bench ${elapsed}s] ${line}`);
    },
  };
}

async function runAll(ctx: BenchContext, build: boolean): Promise<BenchResults> {
  const startedMs = Date.now();
  requireTools();
  assertBenchPolicies();
  const facts = machineFacts();
  ctx.log(
    `nproc ${facts.nproc}, load average ${facts.loadAverageAtStart.join(" / ")}, ${ctx.quick ? "quick" : "full"} run`,
  );
  if (build) {
    ctx.log("building the worker (npm run build)");
    buildWorker();
  }
  const proxy = await runProxyVsRedis(ctx);
  const single = await runSingle(ctx);
  const memory = await runMemory(ctx);
  const overload = await runOverload(ctx);

  ctx.log("starting the peer rig: Redis, proxy --upstash-semantics, bench/peer-worker.ts in workerd");
  const rig = await startPeerRig(JSON.stringify(PEER_POLICIES));
  let peer: BenchResults["peer"];
  let commands: BenchResults["commands"];
  try {
    commands = await runCommands(ctx, rig);
    peer = await runPeer(ctx, rig);
  } finally {
    await rig.stop();
  }
  const farStore = await runFarStore(ctx);
  const coldStart = await runColdStart(ctx);
  const micro = await runMicro(ctx);

  ctx.log("starting four stacks (3 instances on/off, 1 and 2 instances on)");
  const stacks = await startBenchStacks(ctx);
  let overhead: BenchResults["overhead"];
  let keys: BenchResults["keys"];
  let scaling: BenchResults["scaling"];
  let accuracy: BenchResults["accuracy"];
  try {
    overhead = await runOverhead(ctx, stacks.on3, stacks.off3);
    keys = await runKeys(ctx, stacks.on3, stacks.off3);
    scaling = await runScaling(ctx, [stacks.on1, stacks.on2, stacks.on3]);
    accuracy = await runAccuracy(ctx, stacks.on3);
  } finally {
    await stacks.stopAll();
  }
  return {
    quick: ctx.quick,
    facts,
    settings: { seconds: ctx.seconds, rounds: ctx.rounds, connections: ctx.connections },
    durationSec: (Date.now() - startedMs) / 1000,
    overhead,
    proxy,
    peer,
    commands,
    accuracy,
    memory,
    scaling,
    single,
    overload,
    keys,
    farStore,
    coldStart,
    micro,
  };
}

async function main(): Promise<number> {
  const values = readFlags({
    name: "bench",
    help: HELP,
    options: { quick: { type: "boolean" }, "no-build": { type: "boolean" } },
  });
  installInterruptHandlers();
  const ctx = createContext(values.quick ?? false);
  const results = await runAll(ctx, !values["no-build"]);
  const paths = await writeResults(results);
  for (const goal of goals(results)) {
    ctx.log(`goal ${goal.name}: ${goal.measured} (target ${goal.target}) ${goal.met ? "met" : "NOT met"}`);
  }
  ctx.log(`done in ${Math.round(results.durationSec)} s; wrote ${paths.join(", ")}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
