/** @module Scenario 8: one workerd instance on its own socket: limiting on vs off, and a key that is already denied. */
import { startEdge } from "../../local/stack";
import { startRedis } from "../../local/support";
import { alternate, assertMostlyOk, type SideFigures } from "../measure";
import { STACK_POLICIES } from "../policies";
import { type BenchContext, median, onInterrupt, ratio, spawnProxy } from "../support";

export interface SingleResult {
  on: SideFigures;
  off: SideFigures;
  /** Requests/s for one client whose key is denied (answered from the denied cache: 429s, no Redis call). */
  deniedPerSec: number;
  deniedP50Ms: number;
  /** on ÷ off throughput. */
  throughputRatio: number;
  /** denied ÷ off throughput: how close a denied request comes to no limiting at all. */
  deniedRatio: number;
}

/**
 * Redis → proxy → two workerd instances of the bundled worker (limiting on, limiting off), wrk straight at
 * their sockets (no NGINX): `/bench/*` never denies, `/denied/*` has one token an hour for one client.
 *
 * @example
 * const single = await runSingle(ctx);
 */
export async function runSingle(ctx: BenchContext): Promise<SingleResult> {
  ctx.log("single: one workerd instance, limiting on vs off, and an already-denied key");
  const redis = await startRedis();
  const proxy = await spawnProxy(redis.url);
  const bindings = {
    UPSTASH_REDIS_REST_URL: proxy.url,
    UPSTASH_REDIS_REST_TOKEN: proxy.token,
    POLICIES: JSON.stringify(STACK_POLICIES),
  };
  const on = await startEdge({ bindings });
  const off = await startEdge({ bindings: { ...bindings, RATE_LIMIT_DISABLED: "true" } });
  const stopAll = async () => {
    await Promise.all([on.stop(), off.stop()]);
    await proxy.stop();
    await redis.stop();
  };
  const forget = onInterrupt(stopAll);
  try {
    const env = { CLIENTS: "1000", CLIENT_PREFIX: "single-" };
    const figures = await alternate(ctx, "single", [
      { name: "on", url: `${on.url}/bench/x`, script: "header-keys.lua", env },
      { name: "off", url: `${off.url}/bench/x`, script: "header-keys.lua", env },
      {
        name: "denied",
        url: `${on.url}/denied/x`,
        script: "header-keys.lua",
        env: { CLIENTS: "1", CLIENT_PREFIX: "denied-" },
      },
    ]);
    const { on: onFig, off: offFig, denied } = figures as Record<"on" | "off" | "denied", SideFigures>;
    assertMostlyOk("single", { on: onFig, off: offFig });
    const deniedPerSec = Math.round(median(denied.rounds.map((r) => r.requestsPerSec)));
    return {
      on: onFig,
      off: offFig,
      deniedPerSec,
      deniedP50Ms: denied.p50Ms,
      throughputRatio: ratio(onFig.okPerSec, offFig.okPerSec),
      deniedRatio: ratio(deniedPerSec, offFig.okPerSec),
    };
  } finally {
    forget();
    await stopAll();
  }
}
