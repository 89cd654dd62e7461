/** @module Scenario 2: token-bucket EVALSHA decisions/s through the REST proxy vs redis-benchmark on the same Redis. */
import { spawn } from "node:child_process";
import { Redis as IoRedis } from "ioredis";
import { startRedis } from "../../local/support";
import { forStockRedis, TOKEN_BUCKET_LUA } from "../../lua";
import { type BenchContext, median, onInterrupt, ratio, spawnProxy } from "../support";
import { runWrk } from "../wrk";

/** One batch size: decisions/s and latency through each path (medians over the rounds). */
export interface ProxyPoint {
  batch: number;
  redisBenchmarkPerSec: number;
  proxyPerSec: number;
  /** proxy ÷ redis-benchmark: the goal is ≥ 0.5. */
  ratio: number;
  redisBenchmarkP50Ms: number;
  proxyP50Ms: number;
  proxyFailures: number;
}

export interface ProxyResult {
  connections: number;
  command: string;
  points: ProxyPoint[];
}

// The same bucket the wrk script uses: cost 1, capacity 1e9, refill 1e6 per 1000 ms (never denies).
const ARGS = ["1", "bucket:bench", "1", "1000000000", "1000000", "1000"];

/**
 * `redis-benchmark --csv` for `EVALSHA <sha> …` with `-P batch`; returns requests/s and p50 in ms.
 *
 * @example
 * const { perSec } = await redisBenchmark(port, sha, 50, 10, 150_000);
 */
export function redisBenchmark(
  port: number,
  sha: string,
  connections: number,
  batch: number,
  requests: number,
): Promise<{ perSec: number; p50Ms: number }> {
  const args = ["-p", String(port), "-c", String(connections), "-n", String(requests), "-P", String(batch)];
  args.push("--csv", "evalsha", sha, ...ARGS);
  return new Promise((resolve, reject) => {
    const child = spawn("redis-benchmark", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", (error) => reject(new Error(`redis-benchmark could not start: ${error.message}`)));
    child.on("exit", function onBenchmarkExit(code) {
      const row = out.split("\n").find((line) => line.startsWith('"evalsha'));
      const cells = row?.split(",").map((cell) => Number(cell.replaceAll('"', "")));
      if (code !== 0 || !cells || !Number.isFinite(cells[1])) {
        return reject(new Error(`redis-benchmark ${args.join(" ")} failed (exit ${code}):\n${out}`));
      }
      resolve({ perSec: cells[1] as number, p50Ms: cells[4] as number });
    });
  });
}

/** wrk only sees status codes, and a pipeline answers 200 even when its commands fail: check one first. */
/** SCRIPT LOAD of the bucket through the proxy: the SHA1 clients use (of the flagged text). */
async function loadThroughProxy(url: string, token: string): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify(["SCRIPT", "LOAD", TOKEN_BUCKET_LUA]),
  });
  const body = (await res.json()) as { result?: unknown; error?: string };
  if (typeof body.result !== "string") throw new Error(`proxy: SCRIPT LOAD failed: ${body.error}`);
  return body.result;
}

async function checkProxyAnswers(url: string, token: string, sha: string): Promise<void> {
  const command = ["EVALSHA", sha, ...ARGS];
  const response = await fetch(`${url}/pipeline`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify([command, command]),
  });
  const body = (await response.json()) as { result?: unknown }[];
  if (response.status !== 200 || !body.every((entry) => Array.isArray(entry.result))) {
    throw new Error(
      `proxy: EVALSHA through /pipeline did not answer bucket results: ${JSON.stringify(body)}`,
    );
  }
}

/**
 * Starts a private Redis and the proxy, loads lua/token_bucket.lua, then alternates redis-benchmark and
 * wrk (POST `/` for single commands, `/pipeline` with 10 commands) at the same concurrency.
 *
 * @example
 * const result = await runProxyVsRedis(ctx);
 */
export async function runProxyVsRedis(ctx: BenchContext): Promise<ProxyResult> {
  ctx.log("proxy: EVALSHA through the REST proxy vs redis-benchmark, same Redis, same concurrency");
  const redis = await startRedis();
  const forget = onInterrupt(() => redis.stop());
  const client = new IoRedis(redis.url);
  const proxy = await spawnProxy(redis.url).catch(async (error: unknown) => {
    client.disconnect();
    await redis.stop();
    throw error;
  });
  try {
    // Stock Redis takes the script without Upstash's flag; the proxy (--upstash-semantics) learns the
    // flagged script from its own SCRIPT LOAD and runs it guarded, as every request of the stack does.
    const sha = String(await client.script("LOAD", forStockRedis(TOKEN_BUCKET_LUA)));
    const proxySha = await loadThroughProxy(proxy.url, proxy.token);
    await checkProxyAnswers(proxy.url, proxy.token, proxySha);
    const points: ProxyPoint[] = [];
    for (const batch of [1, 10]) {
      const rb: { perSec: number; p50Ms: number }[] = [];
      const wrk: Awaited<ReturnType<typeof runWrk>>[] = [];
      // Sized from the DESIGN's figures (~30 k/s single, ~47 k/s pipelined) to take about ctx.seconds.
      const requests = Math.round((batch === 1 ? 30_000 : 60_000) * ctx.seconds);
      const env = { TOKEN: proxy.token, SHA: proxySha, BATCH: String(batch) };
      const wrkRun = (seconds: number) =>
        runWrk({ url: proxy.url, connections: ctx.connections, seconds, script: "evalsha.lua", env });
      if (!ctx.quick) await wrkRun(1);
      for (let round = 1; round <= ctx.rounds; round++) {
        const r = await redisBenchmark(redis.port, sha, ctx.connections, batch, requests);
        const w = await wrkRun(ctx.seconds);
        rb.push(r);
        wrk.push(w);
        ctx.log(
          `proxy batch ${batch} round ${round}/${ctx.rounds}: redis-benchmark ${Math.round(r.perSec)}/s, ` +
            `proxy ${Math.round(w.okPerSec * batch)}/s`,
        );
      }
      const rbPerSec = Math.round(median(rb.map((r) => r.perSec)));
      const proxyPerSec = Math.round(median(wrk.map((w) => w.okPerSec)) * batch);
      points.push({
        batch,
        redisBenchmarkPerSec: rbPerSec,
        proxyPerSec,
        ratio: ratio(proxyPerSec, rbPerSec),
        redisBenchmarkP50Ms: median(rb.map((r) => r.p50Ms)),
        proxyP50Ms: median(wrk.map((w) => w.latencyMs.p50)),
        proxyFailures: wrk.reduce((sum, w) => sum + w.non2xx + w.socketErrors, 0),
      });
    }
    return { connections: ctx.connections, command: `EVALSHA <token_bucket.lua> ${ARGS.join(" ")}`, points };
  } finally {
    await proxy.stop();
    client.disconnect();
    await redis.stop();
    forget();
  }
}
