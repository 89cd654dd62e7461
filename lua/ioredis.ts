/** @module Adapts an ioredis client (used in Node: tests, benchmarks) to the script's `ScriptRunner`. */
import type { ScriptRunner } from "./index";

/** The slice of ioredis' API the adapter calls; typed structurally so the worker bundle never imports ioredis. */
export interface IoredisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/**
 * Lets `runTokenBucket`/`takeTokens` talk RESP directly through ioredis.
 *
 * @example
 * const result = await takeTokens(ioredisRunner(new Redis(url)), request);
 */
export function ioredisRunner(redis: IoredisLike): ScriptRunner {
  return {
    evalsha: (sha1, keys, args) => redis.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (script, keys, args) => redis.eval(script, keys.length, ...keys, ...args),
  };
}
