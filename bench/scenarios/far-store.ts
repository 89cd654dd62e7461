/** @module Scenario 11: a store 20 ms away each way — latency a hot key's requests add, leases vs per-request vs the peer. */

import { alternate, type SideFigures } from "../measure";
import { startPeerRig } from "../peer-rig";
import { PEER_POLICIES } from "../policies";
import type { BenchContext } from "../support";

export interface FarStoreResult {
  /** Added each way between the worker and the REST proxy. */
  delayMs: number;
  connections: number;
  /** p50 added over the same worker with no limiter; tails on a shared machine are compared raw, not subtracted. */
  sides: { name: string; figures: SideFigures; addedP50Ms: number }[];
}

const DELAY_MS = 20;
// Few connections: this measures latency, not throughput (at 50 the per-request sides would queue).
const CONNECTIONS = 10;
const HOT = { CLIENTS: "10" };

/**
 * One worker reaching its proxy through a 20 ms-each-way relay; wrk on 10 hot keys against our limiter
 * with leases, ours per request, @upstash/ratelimit, and no limiter; added latency = side − no limiter.
 *
 * @example
 * const far = await runFarStore(ctx);
 */
export async function runFarStore(ctx: BenchContext): Promise<FarStoreResult> {
  ctx.log(`far store: the worker reaches the proxy through a relay adding ${DELAY_MS} ms each way`);
  const rig = await startPeerRig(JSON.stringify(PEER_POLICIES), { storeDelayMs: DELAY_MS });
  try {
    const side = (name: string, path: string) => ({
      name,
      url: `${rig.edgeUrl}${path}`,
      script: "header-keys.lua",
      env: { ...HOT, CLIENT_PREFIX: `far-${name}-` },
    });
    const figures = await alternate({ ...ctx, connections: CONNECTIONS }, "far store", [
      side("leases", "/ours/huge"),
      side("per request", "/ours/huge-no-lease"),
      side("@upstash/ratelimit", "/peer/huge"),
      side("no limiter", "/off/x"),
    ]);
    const base = figures["no limiter"] as SideFigures;
    const sides = Object.entries(figures).map(([name, f]) => ({
      name,
      figures: f,
      addedP50Ms: Math.round((f.p50Ms - base.p50Ms) * 100) / 100,
    }));
    for (const s of sides)
      ctx.log(`far store ${s.name}: p50 +${s.addedP50Ms} ms (p99 ${s.figures.p99Ms} ms)`);
    return { delayMs: DELAY_MS, connections: CONNECTIONS, sides };
  } finally {
    await rig.stop();
  }
}
