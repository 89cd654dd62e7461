/** @module Scenario 7: throughput with 1, 2 and 3 instances behind NGINX, limiting on. */
import type { Stack } from "../../local/stack";
import { alternate, assertMostlyOk } from "../measure";
import { type BenchContext, ratio } from "../support";

export interface ScalingPoint {
  instances: number;
  okPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Throughput ÷ the 1-instance throughput. */
  speedup: number;
}

export interface ScalingResult {
  connections: number;
  points: ScalingPoint[];
}

/**
 * Alternates wrk runs over the 1-, 2- and 3-instance stacks (same policy, same clients).
 *
 * @example
 * const result = await runScaling(ctx, [stacks.on1, stacks.on2, stacks.on3]);
 */
export async function runScaling(ctx: BenchContext, stacks: readonly Stack[]): Promise<ScalingResult> {
  ctx.log(`scaling: ${stacks.map((s) => s.edgeUrls.length).join(", ")} instance(s), limiting on`);
  const env = { CLIENTS: "1000", CLIENT_PREFIX: "scaling-" };
  const sides = stacks.map((stack) => ({
    name: String(stack.edgeUrls.length),
    url: `${stack.url}/bench/x`,
    script: "header-keys.lua",
    env,
  }));
  const figures = await alternate(ctx, "scaling", sides);
  assertMostlyOk("scaling", figures);
  const base = figures[sides[0]?.name ?? ""]?.okPerSec ?? Number.NaN;
  const points = sides.map((side) => {
    const f = figures[side.name];
    if (!f) throw new Error(`scaling: no figures for ${side.name} instance(s)`);
    return {
      instances: Number(side.name),
      okPerSec: f.okPerSec,
      p50Ms: f.p50Ms,
      p99Ms: f.p99Ms,
      speedup: ratio(f.okPerSec, base),
    };
  });
  return { connections: ctx.connections, points };
}
