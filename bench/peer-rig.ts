/** @module Redis → REST proxy (--upstash-semantics, which strips flags Redis 7.0 does not know) → one workerd running bench/peer-worker.ts, for the peer and commands scenarios. */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Redis as IoRedis } from "ioredis";
import { startEdge } from "../local/stack";
import { REPO_ROOT, startRedis } from "../local/support";
import { luaAsTextForEsbuild } from "../local/support/lua-loader/vite";
import { startDelayRelay } from "./delay-relay";
import { onInterrupt, spawnProxy } from "./support";

const PEER_WORKER = fileURLToPath(new URL("./peer-worker.ts", import.meta.url));

/** The running rig: the edge serves `/ours/<policy>` and `/peer/<policy>`. */
export interface PeerRig {
  edgeUrl: string;
  /** A direct RESP connection to the rig's Redis (commandstats, memory; never through the proxy). */
  redis: IoRedis;
  stop(): Promise<void>;
}

/**
 * Bundles bench/peer-worker.ts the way wrangler would for workerd (esm, browser platform, `workerd`
 * condition, Lua as text) into `outdir` (which must lie inside the repo), and returns the bundle's path.
 *
 * @example
 * const script = await bundlePeerWorker("/tmp/x");
 */
export async function bundlePeerWorker(outdir: string): Promise<string> {
  const outfile = join(outdir, "peer-worker.js");
  await build({
    entryPoints: [PEER_WORKER],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    // The Lua as the package ships it (minified), as every suite runs it.
    plugins: [luaAsTextForEsbuild()],
    logLevel: "warning",
  });
  return outfile;
}

/**
 * Starts a private Redis, the proxy with `--upstash-semantics` (it strips flags Redis 7.0 does not know,
 * so @upstash/ratelimit's `#!lua flags=allow-key-locking` scripts run on stock Redis with one EVALSHA per
 * call, and checks that they touch only KEYS) and the peer worker;
 * with `storeDelayMs`, the worker reaches the proxy through a relay adding that delay each way.
 *
 * @example
 * const rig = await startPeerRig(JSON.stringify(policies));
 * await fetch(`${rig.edgeUrl}/peer/huge`, { headers: { "x-client": "a" } });
 * await rig.stop();
 */
export async function startPeerRig(
  policies: string,
  options: { storeDelayMs?: number } = {},
): Promise<PeerRig> {
  // workerd refuses module paths that climb out of its working directory (the repo), so the bundle
  // goes into the repo's tool cache (ignored by git and Biome) rather than the system temp dir.
  const cache = join(REPO_ROOT, "node_modules", ".cache");
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(join(cache, "erl-bench-peer-"));
  const stops: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async () => {
    forget();
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  const forget = onInterrupt(stop);
  try {
    const scriptPath = await bundlePeerWorker(dir);
    const redisServer = await startRedis();
    stops.push(() => redisServer.stop());
    const proxy = await spawnProxy(redisServer.url);
    stops.push(() => proxy.stop());
    // A far store: the edge reaches the proxy through a relay that delays each direction.
    let storeUrl = proxy.url;
    if (options.storeDelayMs) {
      const relay = await startDelayRelay(proxy.port, options.storeDelayMs);
      stops.push(() => relay.close());
      storeUrl = relay.url;
    }
    const edge = await startEdge({
      scriptPath,
      bindings: {
        UPSTASH_REDIS_REST_URL: storeUrl,
        UPSTASH_REDIS_REST_TOKEN: proxy.token,
        POLICIES: policies,
      },
    });
    stops.push(() => edge.stop());
    const redis = new IoRedis(redisServer.url, { lazyConnect: true });
    await redis.connect();
    stops.push(() => redis.quit());
    return { edgeUrl: edge.url, redis, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
