/** @module Scenario 5: admitted requests per key over time vs the ideal envelope C + r·t, many clients across all instances. */
import type { Stack } from "../../local/stack";
import { ACCURACY_LIMIT } from "../policies";
import { type BenchContext, sleep } from "../support";
import { runWrk, type WrkResult } from "../wrk";

/** One key's admissions: `[ms since its first request was sent, admitted so far]` at each admitted answer. */
export type AdmitSeries = [number, number][];

export interface AccuracyKey {
  key: string;
  admitted: number;
  /** What an ideal bucket would have admitted from the same requests. */
  ideal: number;
  /** Worst `admitted − ⌊C + r·t⌋` at any admitted answer (t from the first send to that answer); 0 is the goal. */
  overBy: number;
  /** Worst `ideal − admitted` over the run (running counts); ≤ 1 is the goal. */
  underBy: number;
  instances: number;
  series: AdmitSeries;
}

export interface AccuracyResult {
  capacity: number;
  refillPerSec: number;
  seconds: number;
  clients: number;
  statuses: Record<string, number>;
  instancesSeen: string[];
  worstOver: number;
  worstUnder: number;
  /** The wrk load on `/bench/*` that ran at the same time. */
  backgroundLoad: WrkResult;
  keys: AccuracyKey[];
}

export interface Sample {
  sent: number;
  received: number;
  status: number;
  servedBy: string;
}

async function drive(url: string, key: string, until: number, statuses: Record<string, number>) {
  const samples: Sample[] = [];
  while (performance.now() < until) {
    const sent = performance.now();
    const response = await fetch(url, { headers: { "x-client": key } });
    await response.arrayBuffer();
    const received = performance.now();
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    samples.push({
      sent,
      received,
      status: response.status,
      servedBy: response.headers.get("x-served-by") ?? "?",
    });
    // A denied client retries soon (50 ms ≈ 0.1 token at 2/s), so it is ready for the next token.
    if (response.status !== 200) await sleep(50);
  }
  return samples;
}

/** How many of `samples` an ideal bucket (C, r) would admit, deciding each at the middle of its round trip. */
function idealAdmits(samples: readonly Sample[], capacity: number, perSec: number): boolean[] {
  let tokens = capacity;
  let last = Number.NaN;
  return samples.map((s) => {
    const at = (s.sent + s.received) / 2;
    if (!Number.isNaN(last)) tokens = Math.min(capacity, tokens + (perSec * (at - last)) / 1000);
    last = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  });
}

/**
 * Judges one key's samples. Over-admission is against the hard envelope C + r·t, with t taken in the
 * direction that favours the limiter (first send to this answer: client clocks bracket Redis' decision
 * times), so any positive value is a real excess. Under-admission compares the running count with an
 * ideal bucket fed the same requests (decided at the middle of each round trip), so a client that asked
 * less than r per second is not counted as under-admitted.
 *
 * @example
 * const judged = judgeKey("k1", samples, 10, 2);
 */
export function judgeKey(
  key: string,
  samples: readonly Sample[],
  capacity: number,
  perSec: number,
): AccuracyKey {
  const first = samples[0];
  if (!first) return { key, admitted: 0, ideal: 0, overBy: 0, underBy: 0, instances: 0, series: [] };
  const ideal = idealAdmits(samples, capacity, perSec);
  const series: AdmitSeries = [];
  let overBy = 0;
  let underBy = 0;
  let idealSoFar = 0;
  samples.forEach((s, i) => {
    if (ideal[i]) idealSoFar++;
    if (s.status === 200) {
      const envelope = Math.floor(capacity + (perSec * (s.received - first.sent)) / 1000 + 1e-9);
      overBy = Math.max(overBy, series.length + 1 - envelope);
      series.push([Math.round(s.received - first.sent), series.length + 1]);
    }
    underBy = Math.max(underBy, idealSoFar - series.length);
  });
  return {
    key,
    admitted: series.length,
    ideal: idealSoFar,
    overBy,
    underBy,
    instances: new Set(samples.map((s) => s.servedBy)).size,
    series,
  };
}

/**
 * Many clients hammer `/acc/*` (or `path`: `/acc-caller/x` decides by the caller's clock; C = 10, r = 2/s, keyed by `X-Client`) through NGINX to every instance
 * while wrk loads `/bench/*` on the same stack; each key's admissions are checked against C + r·t.
 *
 * @example
 * const result = await runAccuracy(ctx, stacks.on3);
 */
export async function runAccuracy(ctx: BenchContext, stack: Stack, path = "/acc/x"): Promise<AccuracyResult> {
  const clients = ctx.quick ? 20 : 50;
  const seconds = ctx.quick ? 5 : 20;
  const { capacity, refillPerSec } = ACCURACY_LIMIT;
  ctx.log(
    `accuracy: ${clients} clients for ${seconds} s on C=${capacity}, r=${refillPerSec}/s, with wrk load`,
  );
  const statuses: Record<string, number> = {};
  const run = Date.now().toString(36);
  const background = runWrk({
    url: `${stack.url}/bench/x`,
    connections: 8,
    seconds,
    script: "header-keys.lua",
    env: { CLIENTS: "1000", CLIENT_PREFIX: `acc-load-${run}-` },
  });
  const until = performance.now() + seconds * 1000;
  const keys = Array.from({ length: clients }, (_, i) => `acc-${run}-${i}`);
  const perKey = await Promise.all(keys.map((key) => drive(`${stack.url}${path}`, key, until, statuses)));
  const backgroundLoad = await background;
  const judged = keys.map((key, i) => judgeKey(key, perKey[i] ?? [], capacity, refillPerSec));
  const instancesSeen = [...new Set(perKey.flat().map((s) => s.servedBy))].sort();
  const result: AccuracyResult = {
    capacity,
    refillPerSec,
    seconds,
    clients,
    statuses,
    instancesSeen,
    worstOver: Math.max(...judged.map((k) => k.overBy)),
    worstUnder: Math.max(...judged.map((k) => k.underBy)),
    backgroundLoad,
    keys: judged,
  };
  ctx.log(
    `accuracy: worst over-admission ${result.worstOver}, worst under-admission ${result.worstUnder}, ` +
      `statuses ${JSON.stringify(statuses)}, instances ${instancesSeen.join(", ")}`,
  );
  if ((statuses["200"] ?? 0) === 0) throw new Error("accuracy: no request was admitted at all");
  return result;
}
