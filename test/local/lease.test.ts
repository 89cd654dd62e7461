/** @module Leases on the real stack: hot keys spend leased tokens in 3 instances, never more than the bucket holds. */
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../local/stack";
import { bucketKeys, runTokenBucket } from "../../lua";
import { ioredisRunner } from "../../lua/ioredis";
import { LEASE_DEMAND_MS, LEASE_LIFE_MS, MAX_LEASE } from "../../workers/limiter/lease";
import { workerdPids } from "../helpers/launcher";
import { getFresh, type Sample, sleep, startLoad } from "../helpers/load";

const CAPACITY = 4000;
// One token an hour: nothing refills during a test, so tokens are conserved exactly.
const POLICIES = {
  prefix: "lease",
  policies: { big: { limits: [{ name: "b", capacity: CAPACITY, refill: "1/h" }] } },
  routes: [{ path: "/big/*", policy: "big", key: "header:x-client" }],
};
const LIMITS = [{ name: "b", capacity: CAPACITY, refillTokens: 1, refillIntervalMs: 3_600_000 }];

let stack: Stack;
let raw: IoRedis;

beforeAll(async () => {
  stack = await startStack({ port: 0, proxyPort: 0, instances: 3, policies: JSON.stringify(POLICIES) });
  raw = new IoRedis(stack.redisUrl);
}, 120_000);
afterAll(async () => {
  raw?.disconnect();
  await stack?.stop();
});

/** The bucket as Redis holds it now (a cost-0 inspection: leased tokens are not in it). */
async function inBucket(client: string): Promise<number> {
  const keys = await bucketKeys("lease", `key:${client}`, "big", ["b"]);
  return (await runTokenBucket(ioredisRunner(raw), keys, LIMITS, 0)).limits[0]?.remaining ?? -1;
}

async function metricSum(name: string, match: string): Promise<number> {
  let sum = 0;
  for (const url of stack.edgeUrls) {
    const text = await (await getFresh(`${url}/metrics`)).text();
    for (const line of text.split("\n"))
      if (line.startsWith(name) && line.includes(match)) sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

async function scriptCalls(): Promise<number> {
  const info = await raw.info("commandstats");
  return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

/** Hammers one key from 24 clients until `stopWhen` says so; returns every answer. */
async function hammer(
  client: string,
  stopWhen: (samples: Sample[], elapsedMs: number) => boolean,
): Promise<Sample[]> {
  const started = performance.now();
  const load = startLoad(24, () => fetch(`${stack.url}/big/x`, { headers: { "x-client": client } }));
  while (!stopWhen(load.samples, performance.now() - started)) await sleep(5);
  return load.stop();
}

/**
 * The documented bound on tokens held in leases (docs/configuration.md): per instance
 * min(MAX_LEASE, ⌈its requests in a second × LEASE_DEMAND_MS⌉ × 1.5) — a lease's target.
 */
function leaseBound(samples: Sample[]): number {
  const starts = samples.map((s) => s.startedAt).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while ((starts[i] as number) - (starts[j] as number) > 1000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  // Round robin spreads a second's requests evenly over the 3 instances; 20 % slack for its edges.
  const perInstance = Math.ceil((busiest / 3) * 1.2);
  return 3 * Math.min(MAX_LEASE, Math.ceil(((perInstance * LEASE_DEMAND_MS) / 1000) * 1.5));
}

const admitted = (samples: Sample[]) => samples.filter((s) => s.status === 200).length;

describe("token leases (NGINX, 3 workerd, proxy, Redis)", () => {
  it("a hot key drained by 3 instances: never over capacity, leases bounded, every unspent token back after the lease's life", async () => {
    const callsBefore = await scriptCalls();
    const samples = await hammer("drained", (s) => s.some((x) => x.status === 429));
    const inRedis = await inBucket("drained");
    const ok = admitted(samples);
    const held = CAPACITY - ok - inRedis;
    const bound = leaseBound(samples);
    const calls = (await scriptCalls()) - callsBefore;
    const fromLease = await metricSum("erl_decisions_total", 'source="lease"');
    console.log(
      `drained: ${samples.length} requests, ${ok} admitted (${fromLease} from leases), ${calls} store calls; held in leases at the first 429: ${held} (bound ${bound})`,
    );
    expect(samples.filter((s) => s.status !== 200 && s.status !== 429)).toEqual([]);
    expect(ok).toBeLessThanOrEqual(CAPACITY);
    expect(held).toBeGreaterThanOrEqual(0);
    expect(held).toBeLessThanOrEqual(bound);
    expect(fromLease).toBeGreaterThan(0);
    expect(calls).toBeLessThan(samples.length);
    await sleep(LEASE_LIFE_MS + 250);
    expect(await inBucket("drained")).toBe(CAPACITY - ok);
  });

  it("load that stops while instances hold leases: the unspent tokens are back in the bucket after the lease's life", async () => {
    const samples = await hammer("returned", (_, elapsedMs) => elapsedMs > 1600);
    const ok = admitted(samples);
    const held = CAPACITY - ok - (await inBucket("returned"));
    console.log(
      `returned: ${ok} admitted; held in leases when the load stopped: ${held} (bound ${leaseBound(samples)})`,
    );
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(leaseBound(samples));
    await sleep(LEASE_LIFE_MS + 250);
    expect(await inBucket("returned")).toBe(CAPACITY - ok);
    expect(await metricSum("erl_lease_tokens_total", 'direction="returned"')).toBeGreaterThanOrEqual(held);
  });

  it("an instance killed while holding a lease loses at most its lease (and requests it was deciding)", async () => {
    let killed = false;
    const samples = await hammer("killed", (s) => {
      if (!killed && s.length > 0 && performance.now() - (s[0]?.startedAt ?? 0) > 1800) {
        killed = true;
        for (const pid of workerdPids(stack.supervisor.process("edge-2")?.pid ?? -1))
          process.kill(pid, "SIGKILL");
      }
      return killed && performance.now() - (s[0]?.startedAt ?? 0) > 2300;
    });
    await sleep(LEASE_LIFE_MS + 250);
    const ok = admitted(samples);
    const lost = CAPACITY - ok - (await inBucket("killed"));
    // One instance's share of the lease bound, plus the 24 requests that may have been in flight there.
    const bound = leaseBound(samples) / 3 + 24;
    console.log(
      `killed: ${ok} admitted, ${lost} tokens lost with edge-2 (bound ${bound}); they come back by refill`,
    );
    expect(ok).toBeLessThanOrEqual(CAPACITY);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(bound);
  });
});
