/** @module Scenario 9: bursts far above what the stack serves per second, default policy settings, and a hung Redis. */
import { type Stack, startStack } from "../../local/stack";
import { DEFAULT_TIMEOUT_MS } from "../../workers/policies/schema";
import { type BenchContext, median, onInterrupt, sleep } from "../support";

/** What one burst got: how many were admitted vs an exact bucket, and how many the fail mode decided. */
export interface BurstRow {
  burst: number;
  keys: "one" | "distinct";
  admitted: number;
  /** What an exact bucket admits: the capacity for one key, every request for distinct keys. */
  ideal: number;
  /** Decisions by `onError` (source `fail_open`, `fail_closed` or `breaker`): the goal is 0. */
  failMode: number;
  p50Ms: number;
  p99Ms: number;
  /** The longest silence of the store a decision sat through so far (worst instance), from /metrics. */
  longestSilenceMs: number;
}

/** Fail-mode answers while Redis is SIGSTOPped: the first wave waits `timeoutMs`, later ones meet the open breaker. */
export interface HungRow {
  wave: "first (finds the store silent)" | "after the breaker opened";
  requests: number;
  failMode: number;
  p50Ms: number;
  maxMs: number;
}

export interface OverloadResult {
  capacity: number;
  timeoutMs: number;
  bursts: BurstRow[];
  hung: HungRow[];
  /** From SIGCONT to the first decision Redis made again. */
  recoveryMs: number;
}

const CAPACITY = 50;
// Only the limits: timeoutMs, maxWaitMs and onError are left to their documented defaults.
const POLICIES = {
  prefix: "overload",
  policies: { flood: { limits: [{ name: "burst", capacity: CAPACITY, refill: "1/h" }] } },
  routes: [{ path: "/flood/*", policy: "flood", key: "header:x-client" }],
};

interface Answer {
  ms: number;
  status: number;
  reason: string;
}

async function burst(url: string, count: number, keyOf: (i: number) => string): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const started = performance.now();
      const res = await fetch(`${url}/flood/x`, { headers: { "x-client": keyOf(i) } });
      await res.arrayBuffer();
      const reason = res.headers.get("X-RateLimit-Reason") ?? "none";
      return { ms: performance.now() - started, status: res.status, reason };
    }),
  );
}

const isFailMode = (a: Answer) => a.reason.startsWith("redis_");
const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;

async function longestSilence(stack: Stack): Promise<number> {
  const texts = await Promise.all(stack.edgeUrls.map(async (u) => (await fetch(`${u}/metrics`)).text()));
  const values = texts.map((t) => Number(/^erl_store_longest_silence_ms\{[^}]*\} (\d+)/m.exec(t)?.[1] ?? 0));
  return Math.max(0, ...values);
}

async function measureBursts(ctx: BenchContext, stack: Stack): Promise<BurstRow[]> {
  const rows: BurstRow[] = [];
  const sizes = ctx.quick ? [250, 1000] : [250, 500, 1000, 2000];
  for (const size of sizes) {
    for (const keys of ["one", "distinct"] as const) {
      const tag = `${keys}-${size}-${Date.now()}`;
      const answers = await burst(stack.url, size, (i) => (keys === "one" ? tag : `${tag}-${i}`));
      const ms = answers.map((a) => a.ms);
      const row: BurstRow = {
        burst: size,
        keys,
        admitted: answers.filter((a) => a.reason === "allowed").length,
        ideal: keys === "one" ? CAPACITY : size,
        failMode: answers.filter(isFailMode).length,
        p50Ms: median(ms),
        p99Ms: quantile(ms, 0.99),
        longestSilenceMs: await longestSilence(stack),
      };
      rows.push(row);
      ctx.log(
        `overload: ${size} on ${keys} key(s): admitted ${row.admitted}/${row.ideal}, fail mode ${row.failMode}, p50 ${row.p50Ms.toFixed(0)} ms, p99 ${row.p99Ms.toFixed(0)} ms`,
      );
      await sleep(500);
    }
  }
  return rows;
}

async function measureHung(
  ctx: BenchContext,
  stack: Stack,
): Promise<{ hung: HungRow[]; recoveryMs: number }> {
  const redis = stack.supervisor.process("redis");
  if (!redis) throw new Error("overload: the stack has no redis process");
  const size = ctx.quick ? 100 : 200;
  const hung: HungRow[] = [];
  redis.child.kill("SIGSTOP");
  let resumedAt = 0;
  try {
    const waves = ["first (finds the store silent)", "after the breaker opened"] as const;
    for (const wave of waves) {
      const answers = await burst(stack.url, size, (i) => `hung-${wave.length}-${i}`);
      const ms = answers.map((a) => a.ms);
      hung.push({
        wave,
        requests: size,
        failMode: answers.filter(isFailMode).length,
        p50Ms: median(ms),
        maxMs: Math.max(...ms),
      });
      ctx.log(
        `overload, Redis hung, ${wave}: ${hung.at(-1)?.failMode}/${size} by fail mode, max ${hung.at(-1)?.maxMs.toFixed(0)} ms`,
      );
    }
  } finally {
    redis.child.kill("SIGCONT");
    resumedAt = performance.now();
  }
  for (let i = 0; i < 500; i++) {
    const [answer] = await burst(stack.url, 1, () => `recovered-${i}`);
    if (answer?.reason === "allowed") break;
    await sleep(5);
  }
  return { hung, recoveryMs: performance.now() - resumedAt };
}

/**
 * Runs the overload scenario on a stack of its own (NGINX, 3 workerd, proxy, Redis) whose policy sets
 * only its limit, so every fail-mode setting is the documented default.
 *
 * @example
 * const overload = await runOverload(ctx);
 */
export async function runOverload(ctx: BenchContext): Promise<OverloadResult> {
  ctx.log("overload: starting a stack with default fail-mode settings");
  const stack = await startStack({ port: 0, proxyPort: 0, instances: 3, policies: JSON.stringify(POLICIES) });
  const release = onInterrupt(() => stack.stop());
  try {
    const bursts = await measureBursts(ctx, stack);
    const { hung, recoveryMs } = await measureHung(ctx, stack);
    return { capacity: CAPACITY, timeoutMs: DEFAULT_TIMEOUT_MS, bursts, hung, recoveryMs };
  } finally {
    release();
    await stack.stop();
  }
}
