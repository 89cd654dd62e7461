/** @module Writes a run's results: bench/results/<ISO date>.json (raw), docs/benchmarks.md and its SVG plot. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../local/support";
import { goals, whyNot } from "./goals";
import { fmt, int, table } from "./markdown";
import { microTable } from "./micro/table";
import { coldStartSection } from "./report-cold-start";
import type { BenchResults } from "./results";
import { accuracySvg } from "./svg";

const SVG_NAME = "benchmarks-accuracy.svg";

const yes = (met: boolean) => (met ? "**met**" : "not met");

function sections(r: BenchResults): string[] {
  const o = r.overhead;
  const acc = r.accuracy;
  return [
    "## 1. Limiter overhead — stack with limiting on vs off",
    `wrk -t1 -c${o.connections} through NGINX to ${o.instances} workerd instances, \`GET /bench/x\` with \`X-Client\` from 1000 keys, a bucket that never denies (capacity 1e9). Off = the same stack with \`RATE_LIMIT_DISABLED=true\` (same app path, no Redis call).`,
    table(
      ["", "limiting on", "limiting off", "on ÷ off"],
      [
        ["requests/s (2xx)", int(o.on.okPerSec), int(o.off.okPerSec), fmt(o.throughputRatio)],
        ["p50 latency (ms)", fmt(o.on.p50Ms), fmt(o.off.p50Ms), fmt(o.p50Ratio)],
        ["p99 latency (ms)", fmt(o.on.p99Ms), fmt(o.off.p99Ms), fmt(o.p99Ratio)],
        ["failed requests", o.on.failures, o.off.failures, ""],
        [
          "p50 latency at 1 connection (ms)",
          fmt(o.single.on.p50Ms),
          fmt(o.single.off.p50Ms),
          fmt(o.single.p50Ratio),
        ],
      ],
    ),
    "## 2. REST proxy vs raw Redis — token-bucket EVALSHA",
    `\`${r.proxy.command}\` at ${r.proxy.connections} connections: \`redis-benchmark -c ${r.proxy.connections} -P <batch>\` vs wrk POSTing \`/\` (batch 1) or \`/pipeline\` (batch 10) to the proxy, same private Redis.`,
    table(
      [
        "batch",
        "redis-benchmark decisions/s",
        "proxy decisions/s",
        "proxy ÷ redis",
        "p50 redis / proxy (ms)",
      ],
      r.proxy.points.map((p) => [
        p.batch,
        int(p.redisBenchmarkPerSec),
        int(p.proxyPerSec),
        fmt(p.ratio),
        `${fmt(p.redisBenchmarkP50Ms)} / ${fmt(p.proxyP50Ms)}`,
      ]),
    ),
    "## 3. Peer — ours vs `@upstash/ratelimit` `tokenBucket`",
    `One workerd running \`bench/peer-worker.ts\` (one shared \`@upstash/redis/cloudflare\` client), wrk -c${r.peer.connections} straight at it, ${r.peer.clients} client keys, buckets that never deny.`,
    table(
      [
        "policy",
        "ours decisions/s",
        "peer decisions/s",
        "ours ÷ peer",
        "p50 ours / peer (ms)",
        "p99 ours / peer (ms)",
      ],
      r.peer.comparisons.map((c) => [
        `${c.policy} (${c.limits} limit${c.limits > 1 ? "s" : ""})`,
        int(c.ours.okPerSec),
        int(c.peer.okPerSec),
        fmt(c.throughputRatio),
        `${fmt(c.ours.p50Ms)} / ${fmt(c.peer.p50Ms)}`,
        `${fmt(c.ours.p99Ms)} / ${fmt(c.peer.p99Ms)}`,
      ]),
    ),
    "## 4. Redis commands per decision (`INFO commandstats` deltas)",
    "Total = every command Redis executed, script-internal ones included; client = EVALSHA/EVAL sent (each one HTTP request to the proxy).",
    table(
      ["side", "decision", "total / decision", "client calls / decision", "breakdown"],
      r.commands.phases.map((p) => [
        p.side,
        p.phase,
        fmt(p.commandsPerDecision),
        fmt(p.clientCallsPerDecision),
        Object.entries(p.delta)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ") || "none",
      ]),
    ),
    "## 5. Accuracy under load",
    `${acc.clients} clients, each keyed by \`X-Client\`, sending back to back through NGINX for ${acc.seconds} s (retrying 50 ms after a denial) on C = ${acc.capacity}, r = ${acc.refillPerSec}/s, while wrk loaded \`/bench/*\` on the same stack (${int(acc.backgroundLoad.okPerSec)} req/s). Instances seen: ${acc.instancesSeen.join(", ")}. Statuses: ${Object.entries(
      acc.statuses,
    )
      .map(([s, n]) => `${s}: ${n}`)
      .join(
        ", ",
      )}. Over-admission at each admitted answer is \`admitted − ⌊C + r·(received − first sent)⌋\` (client clocks bracket Redis' decision times, so this bound favours the limiter by one round trip and any positive value is a real excess). Under-admission is the worst \`ideal − admitted\` over the run, where *ideal* is a perfect bucket fed the same requests, each decided at the middle of its round trip (so a client that asked for less than r/s is not counted as refused).`,
    table(
      [
        "worst over-admission",
        "worst under-admission",
        "admitted / ideal (all keys)",
        "min instances per key",
      ],
      [
        [
          acc.worstOver,
          acc.worstUnder,
          `${acc.keys.reduce((s, k) => s + k.admitted, 0)} / ${acc.keys.reduce((s, k) => s + k.ideal, 0)}`,
          Math.min(...acc.keys.map((k) => k.instances)),
        ],
      ],
    ),
    `![admitted per key vs C + r·t](${SVG_NAME})`,
    "## 6. Memory per active key and expiry",
    table(
      [
        "limits per policy",
        "identities",
        "keys",
        "bytes/key (INFO used_memory Δ)",
        "bytes/key (MEMORY USAGE)",
        "bytes/identity",
      ],
      r.memory.shapes.map((s) => [
        s.limits,
        int(s.identities),
        int(s.keys),
        s.bytesPerKeyInfo,
        s.bytesPerKeyMemoryUsage,
        s.bytesPerIdentity,
      ]),
    ),
    table(
      [
        "tokens taken (C=10, r=5/s)",
        "time-to-full (ms)",
        "keys",
        "PTTL right after (ms)",
        "keys left at time-to-full + 250 ms",
      ],
      r.memory.expiry.map((e) => [
        e.cost,
        e.timeToFullMs,
        e.keys,
        `${e.pttlMin}–${e.pttlMax}`,
        e.existingAfter,
      ]),
    ),
    "## 7. Scaling — 1, 2, 3 instances behind NGINX (limiting on)",
    table(
      ["instances", "requests/s (2xx)", "× 1 instance", "p50 (ms)", "p99 (ms)"],
      r.scaling.points.map((p) => [p.instances, int(p.okPerSec), fmt(p.speedup), fmt(p.p50Ms), fmt(p.p99Ms)]),
    ),
    `On ${r.facts.nproc} cores every instance, NGINX, the proxy, Redis and wrk share the same CPUs, so throughput plateaus once the cores are busy: more instances add isolates, not CPU.`,
    "## 8. One instance — limiting on vs off, and an already-denied key",
    "wrk straight at one workerd socket (no NGINX). On: `/bench/*` (never denies, 1000 client keys); off: the same worker with `RATE_LIMIT_DISABLED=true`; denied: one client on a 1-token-per-hour bucket, so every request after the first is a 429 from the denied cache (no Redis call).",
    table(
      ["side", "requests/s", "÷ off", "p50 (ms)"],
      [
        ["limiting on", int(r.single.on.okPerSec), fmt(r.single.throughputRatio), fmt(r.single.on.p50Ms)],
        ["limiting off", int(r.single.off.okPerSec), "1.00", fmt(r.single.off.p50Ms)],
        [
          "already-denied key (429s)",
          int(r.single.deniedPerSec),
          fmt(r.single.deniedRatio),
          fmt(r.single.deniedP50Ms),
        ],
      ],
    ),
    ...overloadSection(r.overload),
    ...leaseSections(r),
    ...coldStartSection(r.coldStart),
    ...microSection(r.micro),
  ];
}

function microSection(micro: BenchResults["micro"]): string[] {
  if (!micro) return [];
  return [
    "## 13. Micro — the edge path per request, in workerd, in-process",
    `The README's Hono app inside one workerd (Miniflare), no socket: the store is a stub worker answering the token-bucket EVALSHA (\`bench/micro/store-stub.ts\`), reached in-isolate (\`inproc\`) or by a real subrequest. ${micro.requestsPerRun} requests per configuration and round, timed inside the isolate in batches of ${micro.batch}; median of ${micro.rounds} alternating rounds; "minus (a)" is taken per round. On its own: \`npm run bench:micro\`.`,
    microTable(micro).join("\n"),
  ];
}

function leaseSections(r: BenchResults): string[] {
  const side = (f: { okPerSec: number; p50Ms: number }) => `${int(f.okPerSec)} (p50 ${fmt(f.p50Ms)})`;
  return [
    "## 10. Key distributions — token leases on vs off",
    `wrk through NGINX to 3 instances. Leases on: \`/bench/*\` (the default \`"lease": "auto"\`); per request: \`/nolease/*\`, the same bucket with \`"lease": "off"\`; off: the limiting-off stack. Store calls per decision: EVALSHA/EVAL calls Redis served ÷ requests answered, in a separate ${r.quick ? 1 : 3} s run per side right after 1 s of the same load (a key is leased once it has been hot for half a second).`,
    table(
      [
        "keys",
        "leases on: req/s (p50 ms)",
        "per request",
        "limiting off",
        "leases ÷ off",
        "per request ÷ off",
        "store calls/decision: leases",
        "per request",
        "HTTP exchanges/decision: leases",
        "per request",
      ],
      r.keys.rows.map((k) => [
        k.distribution,
        side(k.leaseOn),
        side(k.leaseOff),
        side(k.off),
        fmt(k.onRatio),
        fmt(k.perRequestRatio),
        fmt(k.callsPerDecisionOn, 3),
        fmt(k.callsPerDecisionOff, 3),
        fmt(k.httpPerDecisionOn, 3),
        fmt(k.httpPerDecisionOff, 3),
      ]),
    ),
    `## 11. A far store — ${r.farStore.delayMs} ms each way`,
    `One workerd (the peer rig) reaching its proxy through a relay that delays every chunk ${r.farStore.delayMs} ms each way; wrk -c${r.farStore.connections} on 10 hot keys. Added = the side's latency − the same worker answering with no limiter.`,
    table(
      ["side", "req/s", "p50 (ms)", "p99 (ms)", "added p50 (ms)"],
      r.farStore.sides.map((s) => [
        s.name,
        int(s.figures.okPerSec),
        fmt(s.figures.p50Ms),
        fmt(s.figures.p99Ms),
        fmt(s.addedP50Ms),
      ]),
    ),
  ];
}

function overloadSection(o: BenchResults["overload"]): string[] {
  return [
    "## 9. Overload — a busy store is waited for, a hung one is failed fast",
    `Bursts of concurrent requests through NGINX to 3 instances, policy \`{"limits":[{"capacity":${o.capacity},"refill":"1/h"}]}\` with every fail-mode setting left to its default (\`timeoutMs\` ${o.timeoutMs}, \`maxWaitMs\` 5000, \`onError\` open). "One key": all requests on one fresh key (exact: ${o.capacity} admitted); "distinct": one fresh key each (exact: all admitted). Longest silence: the longest the store answered nothing while a decision waited (\`erl_store_longest_silence_ms\`, worst instance, so far in the run) — how close the burst came to \`timeoutMs\`.`,
    table(
      ["burst", "keys", "admitted", "exact", "by fail mode", "p50 (ms)", "p99 (ms)", "longest silence (ms)"],
      o.bursts.map((b) => [
        b.burst,
        b.keys,
        b.admitted,
        b.ideal,
        b.failMode,
        fmt(b.p50Ms, 0),
        fmt(b.p99Ms, 0),
        b.longestSilenceMs,
      ]),
    ),
    "Then Redis is SIGSTOPped and two waves of concurrent requests (distinct keys) are sent: the first finds the store silent and waits `timeoutMs`; by the second, every instance's breaker is open.",
    table(
      ["wave", "requests", "by fail mode", "p50 (ms)", "max (ms)"],
      o.hung.map((h) => [h.wave, h.requests, h.failMode, fmt(h.p50Ms, 1), fmt(h.maxMs, 1)]),
    ),
    `After SIGCONT, the first decision by Redis again came ${fmt(o.recoveryMs, 0)} ms later.`,
  ];
}

/**
 * The whole of docs/benchmarks.md for a run (static notes are in the returned text too).
 *
 * @example
 * await writeFile("docs/benchmarks.md", renderMarkdown(results, "bench/results/x.json"));
 */
export function renderMarkdown(r: BenchResults, jsonPath: string): string {
  const f = r.facts;
  const goalRows = goals(r).map((g) => [g.name, g.target, g.measured, yes(g.met)]);
  return [
    "# Benchmarks",
    `Generated by \`npm run bench${r.quick ? " -- --quick" : ""}\` on ${f.startedAt} in ${Math.round(r.durationSec)} s; raw figures: [\`${jsonPath}\`](../${jsonPath}).${r.quick ? " **Quick run: short measurements, indicative only.**" : ""} Every figure is a ratio against a baseline measured in the same run, in alternating rounds (median of ${r.settings.rounds} × ${r.settings.seconds} s, wrk -t1 -c${r.settings.connections}).`,
    `Machine: \`nproc\` = ${f.nproc} (${f.cpuModel}), load average at start ${f.loadAverageAtStart.join(" / ")}, Node ${f.node}, ${f.redis.split(" ").slice(0, 3).join(" ")}, ${f.wrk.split(" ").slice(0, 2).join(" ")}, ${f.nginx}. The machine is shared: other work ran alongside, so absolute numbers are noisy; the ratios are the result.`,
    "## Goals (issue 7)",
    table(["goal", "target", "measured", ""], goalRows),
    ...whyNot(r),
    ...sections(r),
    "## How the peer is run, and its settings",
    "- `@upstash/ratelimit` 2.x scripts begin with `#!lua flags=allow-key-locking`, which stock Redis 7.0 rejects (`Unexpected flag in script shebang`). The rig's REST proxy runs with `--strip-script-flags`: it removes unknown shebang flags before `EVAL` / `SCRIPT LOAD` and maps `EVALSHA` of the client's original SHA1 to the rewritten script, so after its first call the peer pays one `EVALSHA` per decision (scenario 4 shows no `eval` after warm-up).",
    "- Peer limits: `Ratelimit.tokenBucket(refillTokens, \"<interval> ms\", capacity)` with our limit's numbers, `prefix` per policy and limit, `ephemeralCache: new Map()` (its default: denied identifiers are answered in-isolate until reset, like our denied cache), `timeout: 1000` (our policies' `timeoutMs` is 1000 too, failing closed; a timed-out answer counts as a failure on both sides, never as a decision), `analytics: false`, `enableProtection: false`, `dynamicLimits: false` (each would add Redis calls). A two-limit policy needs two `Ratelimit` instances, called with `Promise.all` (the fastest the peer can do, though not all-or-nothing as ours is).",
    "- Both sides share one `Redis` client with the options `workers/worker.ts` uses: `enableAutoPipelining: false`, `retry: false`, `readYourWrites: false`, `enableTelemetry: false`, `latencyLogging: false`, `responseEncoding: false`. Both handlers do the same work: decide, set `X-RateLimit-Remaining`, answer 200 or 429.",
    "- Differences that remain: the peer's clock is the caller's `Date.now()` (ours is Redis `TIME`), and it refills `refillTokens` at once per interval instead of continuously.",
    "## Reproduce",
    "```sh\nnpm run bench              # full run, about 10 minutes; builds the worker first (--no-build to skip)\nnpm run bench -- --quick   # every scenario briefly (CI), under 2 minutes\n```",
    "",
  ].join("\n\n");
}

/**
 * Writes the JSON, the Markdown report and the SVG; returns the paths written (relative to the repo).
 *
 * @example
 * const paths = await writeResults(results);
 */
export async function writeResults(r: BenchResults): Promise<string[]> {
  const stamp = r.facts.startedAt.replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
  const jsonPath = `bench/results/${stamp}.json`;
  await mkdir(join(REPO_ROOT, "bench/results"), { recursive: true });
  await writeFile(join(REPO_ROOT, jsonPath), `${JSON.stringify({ ...r, goals: goals(r) }, null, 2)}\n`);
  await writeFile(join(REPO_ROOT, "docs", SVG_NAME), accuracySvg(r.accuracy));
  await writeFile(join(REPO_ROOT, "docs/benchmarks.md"), renderMarkdown(r, jsonPath));
  return [jsonPath, `docs/${SVG_NAME}`, "docs/benchmarks.md"];
}
