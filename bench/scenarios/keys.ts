/** @module Scenario 10: key distributions (uniform, hot, Zipf) with leases on, leases off and limiting off. */
import { Redis as IoRedis } from "ioredis";
import type { Stack } from "../../local/stack";
import { alternate, assertMostlyOk, type SideFigures } from "../measure";
import { type BenchContext, ratio } from "../support";
import { runWrk } from "../wrk";

/** One distribution's figures: each side's throughput and latency, and store calls per decision. */
export interface KeysRow {
  distribution: string;
  leaseOn: SideFigures;
  leaseOff: SideFigures;
  off: SideFigures;
  /** lease on ÷ limiting off throughput (goals: hot ≥ 0.85, Zipf ≥ 0.6). */
  onRatio: number;
  /** lease off ÷ limiting off: per-request decisions, what leases are measured against. */
  perRequestRatio: number;
  /** EVALSHA/EVAL calls Redis served per request answered, leases on and off. */
  callsPerDecisionOn: number;
  callsPerDecisionOff: number;
  /** HTTP exchanges with the REST proxy per request answered (the instances' `erl_store_calls_total`). */
  httpPerDecisionOn: number;
  httpPerDecisionOff: number;
}

export interface KeysResult {
  rows: KeysRow[];
}

const DISTRIBUTIONS = [
  { name: "uniform, 1 000 keys", script: "header-keys.lua", env: { CLIENTS: "1000" } },
  { name: "hot, 10 keys", script: "header-keys.lua", env: { CLIENTS: "10" } },
  { name: "Zipf s=1.0, 10 000 keys", script: "zipf-keys.lua", env: { CLIENTS: "10000", ZIPF_S: "1.0" } },
] as const;

async function scriptCalls(redis: IoRedis): Promise<number> {
  const info = await redis.info("commandstats");
  return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

/** HTTP exchanges the stack's instances have had with the store so far (each instance's `/metrics`). */
async function httpCalls(stack: Stack): Promise<number> {
  let sum = 0;
  for (const edge of stack.edgeUrls) {
    const text = await (await fetch(`${edge}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("erl_store_calls_total"));
    sum += Number(line?.split(" ").at(-1) ?? 0);
  }
  return sum;
}

const perRequest = (count: number, requests: number) =>
  requests === 0 ? Number.NaN : Math.round((count / requests) * 1000) / 1000;

/**
 * Store calls (Redis script calls, and HTTP exchanges with the proxy) per answered request for one side,
 * from the counters around a short wrk run, after a second of the same load (keys turn hot, and so
 * leased, after half a second of traffic).
 */
async function callsPerDecision(
  ctx: BenchContext,
  redis: IoRedis,
  stack: Stack,
  url: string,
  script: string,
  env: Record<string, string>,
): Promise<{ script: number; http: number }> {
  await runWrk({ url, connections: ctx.connections, seconds: 1, script, env });
  const [scriptsBefore, httpBefore] = [await scriptCalls(redis), await httpCalls(stack)];
  const result = await runWrk({ url, connections: ctx.connections, seconds: ctx.quick ? 1 : 3, script, env });
  return {
    script: perRequest((await scriptCalls(redis)) - scriptsBefore, result.requests),
    http: perRequest((await httpCalls(stack)) - httpBefore, result.requests),
  };
}

/**
 * For each distribution, alternates wrk on `/bench/*` (leases on, the default), `/nolease/*` (the same
 * bucket decided per request) and the limiting-off stack; then counts store calls per decision.
 *
 * @example
 * const keys = await runKeys(ctx, stacks.on3, stacks.off3);
 */
export async function runKeys(ctx: BenchContext, on: Stack, off: Stack): Promise<KeysResult> {
  const redis = new IoRedis(on.redisUrl, { lazyConnect: true });
  await redis.connect();
  const rows: KeysRow[] = [];
  try {
    for (const [i, d] of DISTRIBUTIONS.entries()) {
      ctx.log(`keys: ${d.name}, leases on vs off vs limiting off`);
      const env = (side: string) => ({ ...d.env, CLIENT_PREFIX: `keys-${i}-${side}-` });
      const figures = await alternate(ctx, `keys ${d.name}`, [
        { name: "leaseOn", url: `${on.url}/bench/x`, script: d.script, env: env("on") },
        { name: "leaseOff", url: `${on.url}/nolease/x`, script: d.script, env: env("nolease") },
        { name: "off", url: `${off.url}/bench/x`, script: d.script, env: env("off") },
      ]);
      assertMostlyOk(`keys ${d.name}`, figures);
      const [leaseOn, leaseOff, offFig] = [figures.leaseOn, figures.leaseOff, figures.off] as SideFigures[];
      const leased = await callsPerDecision(ctx, redis, on, `${on.url}/bench/x`, d.script, env("on"));
      const single = await callsPerDecision(ctx, redis, on, `${on.url}/nolease/x`, d.script, env("nolease"));
      const row: KeysRow = {
        distribution: d.name,
        leaseOn: leaseOn as SideFigures,
        leaseOff: leaseOff as SideFigures,
        off: offFig as SideFigures,
        onRatio: ratio(leaseOn?.okPerSec ?? 0, offFig?.okPerSec ?? 0),
        perRequestRatio: ratio(leaseOff?.okPerSec ?? 0, offFig?.okPerSec ?? 0),
        callsPerDecisionOn: leased.script,
        callsPerDecisionOff: single.script,
        httpPerDecisionOn: leased.http,
        httpPerDecisionOff: single.http,
      };
      ctx.log(
        `keys ${d.name}: on ÷ off ${row.onRatio}, per-request ÷ off ${row.perRequestRatio}, store calls per decision ${row.callsPerDecisionOn} (leases) vs ${row.callsPerDecisionOff}, HTTP exchanges per decision ${row.httpPerDecisionOn} vs ${row.httpPerDecisionOff}`,
      );
      rows.push(row);
    }
  } finally {
    redis.disconnect();
  }
  return { rows };
}
