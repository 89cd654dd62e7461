/** @module Adapts an ioredis client (used in Node: tests, benchmarks) to the script's `ScriptRunner`, for stock Redis. */
import { createHash } from "node:crypto";
import type { ScriptRunner } from "./index";
import { forStockRedis } from "./shebang";

/** The slice of ioredis' API the adapter calls; typed structurally so the worker bundle never imports ioredis. */
export interface IoredisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * Lets `runTokenBucket`/`takeTokens` talk RESP directly to a stock Redis through ioredis. Stock Redis 7.0
 * refuses Upstash's `allow-key-locking` flag, so scripts go out as {@link forStockRedis} makes them, and
 * EVALSHA of the original script's SHA1 runs the stripped one (learnt on the first EVAL, after NOSCRIPT).
 *
 * @example
 * const result = await takeTokens(ioredisRunner(new Redis(url)), request);
 */
export function ioredisRunner(redis: IoredisLike): ScriptRunner {
  const stripped = new Map<string, string>();
  return {
    evalsha: (sha1, keys, args) => redis.evalsha(stripped.get(sha1) ?? sha1, keys.length, ...keys, ...args),
    eval(script, keys, args) {
      const stock = forStockRedis(script);
      if (stock !== script) stripped.set(sha1Hex(script), sha1Hex(stock));
      return redis.eval(stock, keys.length, ...keys, ...args);
    },
  };
}

/**
 * The script as a stock Redis 7.0 loads it (`SCRIPT LOAD` over RESP), for callers that load scripts
 * themselves.
 *
 * @example
 * await redis.script("LOAD", forStockRedis(TOKEN_BUCKET_LUA));
 */
export { forStockRedis } from "./shebang";
