/** @module What one store call carries: queued decisions merged per bucket into takes, sent in one pipeline, shared out. */
import {
  type BucketClock,
  type BucketResult,
  decodeReply,
  encodeArgs,
  isNoScript,
  type LeaseArgs,
  type LimitSpec,
  TOKEN_BUCKET_LUA,
  tokenBucketSha1,
} from "../../../lua";
import { classifyStoreError, type StoreOutcome } from "../store-call";
import type { PipelineLike, RedisLike } from "../types";
import type { Mark } from "./stall";

/** One decision waiting for the store: plain data, shared by the requests of an isolate. */
export interface Ask {
  /** Decisions of one group (same bucket keys and cost) merge into one take. */
  readonly group: string;
  readonly keys: string[];
  readonly limits: readonly LimitSpec[];
  readonly cost: number;
  readonly lease?: LeaseArgs;
  /** The clock its policy prefers (default `store`). */
  readonly clock?: BucketClock;
  /** When the decision joined the queue (local clock, ms), with the isolate's stalls by then. */
  readonly queued: Mark;
  /** Set by the call that carried it, before that call's promise settles. */
  outcome?: StoreOutcome<BucketResult>;
  /** The call that carries it, once sent. */
  carrier?: Flight;
}

/** One store call in flight: started by a live request that awaits it (or keeps it alive with waitUntil). */
export interface Flight {
  promise: Promise<void>;
  readonly started: Mark;
  readonly groups: ReadonlySet<string>;
  done: boolean;
  /** Decisions it carries that still wait for it. */
  waiting: number;
}

/** Several decisions on one bucket: one script call deciding `asks.length` requests of `cost`, in order. */
export interface Take {
  readonly keys: string[];
  readonly limits: readonly LimitSpec[];
  readonly cost: number;
  readonly lease?: LeaseArgs;
  readonly clock?: BucketClock;
  readonly asks: Ask[];
}

/** A take's answer: the script's reply, or why there is none. */
export type TakeReply = { ok: true; reply: unknown } | { ok: false; error: unknown };

/** A Redis error reply carried inside a pipeline's answer (the exchange itself succeeded). */
class PipelineReplyError extends Error {
  override name = "ReplyError";
}

/**
 * Merges asks of one group into one take (arrival order kept); a take asks for the largest lease any of
 * its asks wanted and gives back every refund they carry.
 *
 * @example
 * mergeTakes([a1, a2, b1]); // [{ asks: [a1, a2], … }, { asks: [b1], … }]
 */
export function mergeTakes(asks: readonly Ask[]): Take[] {
  const byGroup = new Map<string, Take>();
  for (const ask of asks) {
    const take = byGroup.get(ask.group);
    if (!take) {
      byGroup.set(ask.group, {
        keys: ask.keys,
        limits: ask.limits,
        cost: ask.cost,
        lease: ask.lease,
        clock: ask.clock,
        asks: [ask],
      });
      continue;
    }
    take.asks.push(ask);
    if (!ask.lease) continue;
    const lease = take.lease ?? { want: take.cost, refund: 0 };
    const merged = { want: Math.max(lease.want, ask.lease.want), refund: lease.refund + ask.lease.refund };
    byGroup.set(ask.group, { ...take, lease: merged });
  }
  return [...byGroup.values()];
}

function argsOf(take: Take): string[] {
  return encodeArgs(take.cost, take.limits, take.lease, take.asks.length, {
    use: take.clock ?? "store",
    nowMs: Date.now(),
  });
}

/** One take alone: EVALSHA, then EVAL when Redis lost its script cache. */
async function runOne(client: RedisLike, sha1: string, take: Take): Promise<TakeReply> {
  const args = argsOf(take);
  try {
    const reply = await client.evalsha(sha1, take.keys, args).catch((error: unknown) => {
      if (isNoScript(error)) return client.eval(TOKEN_BUCKET_LUA, take.keys, args);
      throw error;
    });
    return { ok: true, reply };
  } catch (error) {
    return { ok: false, error };
  }
}

async function execPipeline(
  client: RedisLike & { pipeline(): PipelineLike },
  takes: readonly Take[],
  add: (p: PipelineLike, take: Take) => PipelineLike,
): Promise<TakeReply[]> {
  let pipeline = client.pipeline();
  for (const take of takes) pipeline = add(pipeline, take);
  const entries = await pipeline.exec({ keepErrors: true });
  return entries.map((entry) =>
    entry.error === undefined || entry.error === null
      ? { ok: true, reply: entry.result }
      : { ok: false, error: new PipelineReplyError(String(entry.error)) },
  );
}

/**
 * Runs takes in one exchange with the store: a single take as a plain EVALSHA, several as one pipeline
 * (the client's own `pipeline()`, else concurrent calls). Entries Redis answered NOSCRIPT are sent again
 * with EVAL in a second pipeline (they did not run). Rejects only when the exchange itself failed.
 *
 * @example
 * const replies = await runTakes(redis, mergeTakes(batch));
 */
export async function runTakes(client: RedisLike, takes: readonly Take[]): Promise<TakeReply[]> {
  const sha1 = await tokenBucketSha1();
  const [only] = takes;
  if (takes.length === 1 && only) {
    const reply = await runOne(client, sha1, only);
    if (!reply.ok && classifyStoreError(reply.error) === "unavailable") throw reply.error;
    return [reply];
  }
  if (!hasPipeline(client)) return Promise.all(takes.map((take) => runOne(client, sha1, take)));
  const replies = await execPipeline(client, takes, (p, t) => p.evalsha(sha1, t.keys, argsOf(t)));
  const lost = takes.filter((_, i) => {
    const reply = replies[i];
    return reply && !reply.ok && isNoScript(reply.error);
  });
  if (lost.length === 0) return replies;
  const again = await execPipeline(client, lost, (p, t) => p.eval(TOKEN_BUCKET_LUA, t.keys, argsOf(t)));
  return replies.map((reply) => {
    if (reply.ok || !isNoScript(reply.error)) return reply;
    return again.shift() ?? reply;
  });
}

function hasPipeline(client: RedisLike): client is RedisLike & { pipeline(): PipelineLike } {
  return typeof client.pipeline === "function";
}

/**
 * The answer of each ask of a merged take: the first `granted` in arrival order are admitted, counting
 * `remaining` down as separate calls would have; the rest are denied with the script's word on the first
 * request it could not serve. A lease's extra tokens go with the first admitted ask that wanted a lease.
 *
 * @example
 * shareOut(take, decodeReply(reply, take.limits)); // one BucketResult per ask
 */
export function shareOut(take: Take, result: BucketResult): BucketResult[] {
  const { cost, limits } = take;
  const extra = result.taken - result.granted * cost;
  const wanting = take.asks.findIndex((a, i) => i < result.granted && (a.lease?.want ?? 0) > cost);
  const leaseHolder = Math.max(0, wanting);
  return take.asks.map(function resultOf(_, i): BucketResult {
    if (i >= result.granted) return { ...result, taken: 0, granted: 0 };
    const after = (result.granted - 1 - i) * cost;
    return {
      ...result,
      allowed: true,
      reason: null,
      deniedBy: [],
      retryAfterMs: 0,
      taken: i === leaseHolder ? cost + extra : cost,
      granted: 1,
      limits: result.limits.map((l, n) => {
        const spec = limits[n];
        const refillMs = spec ? Math.ceil((after * spec.refillIntervalMs) / spec.refillTokens) : 0;
        return {
          ...l,
          remaining: Math.min(l.limit, l.remaining + after),
          resetMs: Math.max(0, l.resetMs - refillMs),
          retryAfterMs: 0,
          reason: null,
        };
      }),
    };
  });
}

/**
 * Hands each ask of `take` its outcome. Returns whether the store answered (a result or an error reply
 * about the command), which is what keeps a busy store from reading as a silent one.
 *
 * @example
 * const answered = settle(take, { ok: true, reply });
 */
export function settle(take: Take, reply: TakeReply): boolean {
  if (reply.ok) {
    let results: BucketResult[];
    try {
      results = shareOut(take, decodeReply(reply.reply, take.limits));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const ask of take.asks)
        ask.outcome = { ok: false, failure: { kind: "reply", reason: "redis_error", message } };
      return true;
    }
    take.asks.forEach((ask, i) => {
      ask.outcome = { ok: true, value: results[i] as BucketResult };
    });
    return true;
  }
  fail(take.asks, reply.error);
  return classifyStoreError(reply.error) === "reply";
}

/**
 * Fails asks with the store's error: unavailable (connection, gateway, LOADING…) or a reply about the command.
 *
 * @example
 * fail(batch, new TypeError("fetch failed"));
 */
export function fail(asks: readonly Ask[], error: unknown): void {
  const kind = classifyStoreError(error);
  const message = error instanceof Error ? error.message : String(error);
  for (const ask of asks) ask.outcome = { ok: false, failure: { kind, reason: "redis_error", message } };
}
