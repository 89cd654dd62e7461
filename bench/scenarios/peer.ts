/** @module Scenario 3: our limiter vs @upstash/ratelimit tokenBucket in the same worker, over the same proxy and Redis. */
import { alternate, assertMostlyOk, type SideFigures } from "../measure";
import type { PeerRig } from "../peer-rig";
import { type BenchContext, ratio } from "../support";

/** One policy shape: both sides' figures and ours ÷ peer. */
export interface PeerComparison {
  policy: string;
  limits: number;
  ours: SideFigures;
  peer: SideFigures;
  /** Our decisions/s ÷ the peer's: the goal is ≥ 1.5. */
  throughputRatio: number;
  p50Ratio: number;
}

export interface PeerResult {
  connections: number;
  clients: number;
  comparisons: PeerComparison[];
}

/**
 * Fails unless both routes of `policy` answer 200 for a fresh key (so wrk measures decisions, not errors).
 *
 * @example
 * await checkRoutes(rig.edgeUrl, "huge");
 */
export async function checkRoutes(edgeUrl: string, policy: string): Promise<void> {
  for (const side of ["ours", "peer"]) {
    const response = await fetch(`${edgeUrl}/${side}/${policy}`, { headers: { "x-client": "check" } });
    const text = await response.text();
    if (response.status !== 200)
      throw new Error(`peer: /${side}/${policy} answered ${response.status}: ${text}`);
  }
}

/**
 * wrk straight at the peer worker (one workerd, no NGINX): `/ours/<policy>` vs `/peer/<policy>` with
 * 1000 client keys, alternating, for a one-limit and a two-limit policy (never denying).
 *
 * @example
 * const result = await runPeer(ctx, rig);
 */
export async function runPeer(ctx: BenchContext, rig: PeerRig): Promise<PeerResult> {
  ctx.log("peer: createLimiter vs @upstash/ratelimit tokenBucket, same worker, proxy and Redis");
  const clients = 1000;
  const comparisons: PeerComparison[] = [];
  for (const [policy, limits] of [
    ["huge", 1],
    ["huge2", 2],
  ] as const) {
    await checkRoutes(rig.edgeUrl, policy);
    const env = { CLIENTS: String(clients), CLIENT_PREFIX: `peer-${policy}-` };
    const figures = await alternate(ctx, `peer ${policy}`, [
      { name: "ours", url: `${rig.edgeUrl}/ours/${policy}`, script: "header-keys.lua", env },
      { name: "peer", url: `${rig.edgeUrl}/peer/${policy}`, script: "header-keys.lua", env },
    ]);
    assertMostlyOk(`peer ${policy}`, figures);
    const ours = figures.ours as SideFigures;
    const peer = figures.peer as SideFigures;
    comparisons.push({
      policy,
      limits,
      ours,
      peer,
      throughputRatio: ratio(ours.okPerSec, peer.okPerSec),
      p50Ratio: ratio(ours.p50Ms, peer.p50Ms),
    });
  }
  return { connections: ctx.connections, clients, comparisons };
}
