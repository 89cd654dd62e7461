/** @module Scenario 1: the stack with limiting on vs the same stack with limiting off (throughput, p50, p99). */
import type { Stack } from "../../local/stack";
import { alternate, assertMostlyOk, type SideFigures } from "../measure";
import { type BenchContext, ratio } from "../support";

export interface OverheadResult {
  instances: number;
  connections: number;
  on: SideFigures;
  off: SideFigures;
  /** on ÷ off throughput: the goal is ≥ 0.85. */
  throughputRatio: number;
  /** on ÷ off latency (above 1 = slower with limiting on). */
  p50Ratio: number;
  p99Ratio: number;
  /** One client at a time: the latency a lone decision adds (the dispatcher must add no wait when idle). */
  single: { on: SideFigures; off: SideFigures; p50Ratio: number };
}

/**
 * wrk through NGINX to 3 instances, `/bench/*` (a bucket that never denies, keyed by `X-Client` from
 * 1000 clients), alternating the limiting-on and limiting-off stacks.
 *
 * @example
 * const result = await runOverhead(ctx, stacks.on3, stacks.off3);
 */
export async function runOverhead(ctx: BenchContext, on: Stack, off: Stack): Promise<OverheadResult> {
  ctx.log("overhead: limiting on vs off, 3 instances behind NGINX");
  const env = { CLIENTS: "1000", CLIENT_PREFIX: "overhead-" };
  const figures = await alternate(ctx, "overhead", [
    { name: "on", url: `${on.url}/bench/x`, script: "header-keys.lua", env },
    { name: "off", url: `${off.url}/bench/x`, script: "header-keys.lua", env },
  ]);
  assertMostlyOk("overhead", figures);
  const onFig = figures.on as SideFigures;
  const offFig = figures.off as SideFigures;
  ctx.log("overhead: the same at 1 connection (latency of a lone decision)");
  const lone = await alternate({ ...ctx, connections: 1 }, "overhead c=1", [
    {
      name: "on",
      url: `${on.url}/bench/x`,
      script: "header-keys.lua",
      env: { ...env, CLIENT_PREFIX: "lone-" },
    },
    {
      name: "off",
      url: `${off.url}/bench/x`,
      script: "header-keys.lua",
      env: { ...env, CLIENT_PREFIX: "lone-" },
    },
  ]);
  const loneOn = lone.on as SideFigures;
  const loneOff = lone.off as SideFigures;
  return {
    instances: on.edgeUrls.length,
    connections: ctx.connections,
    on: onFig,
    off: offFig,
    throughputRatio: ratio(onFig.okPerSec, offFig.okPerSec),
    p50Ratio: ratio(onFig.p50Ms, offFig.p50Ms),
    p99Ratio: ratio(onFig.p99Ms, offFig.p99Ms),
    single: { on: loneOn, off: loneOff, p50Ratio: ratio(loneOn.p50Ms, loneOff.p50Ms) },
  };
}
