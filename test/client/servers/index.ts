/** @module The issue-21 scenario: a 60-request burst at 10 per 2 s against each ecosystem server and our own stack, plain fetch vs the client. */
import type { ThrottleEvent } from "../../../client/index.ts";
import { ECOSYSTEM, type EcosystemEntry, startEcosystemServer } from "../../../local/tools/ecosystem";
import { type EdgeStack, startEdgeStack } from "../../helpers/edge-stack";
import { burstPolicies, type Gateway, serverDenials, startGateway } from "../gateway";

export const BURST = 60;
export const LIMIT = 10;
export const WINDOW_MS = 2000;

/** `createBackoffFetch` as any version of the client exports it (the table script can load an older one). */
export type CreateBackoffFetch = (options?: { onThrottle?: (e: ThrottleEvent) => void }) => typeof fetch;

/** One server under test: where to send, and the 429s it sent for a key, by its own count. */
export interface Target {
  label: string;
  /** Headers that say how many may go and when: the at-most-one-429 bound applies. */
  readable: boolean;
  /** The least time the server's headers allow for the burst. */
  bestMs: number;
  urlFor(run: string, i: number): string;
  throttled(run: string): Promise<number>;
  stop(): Promise<void>;
}

/** What one server did with the two bursts. */
export interface Row {
  label: string;
  readable: boolean;
  bestMs: number;
  plain429: number;
  client429: number;
  /** Calls that ended 200 for the caller of the backoff client. */
  clientOk: number;
  /** Calls handed a 429 by the client. */
  client429ToCaller: number;
  ms: number;
  events: ThrottleEvent[];
}

/**
 * The least time any client needs, from the headers alone: the first window's quota at once, then one
 * window per further quota; a reset written in rounded-up Unix seconds can add a second to each window.
 */
export function bestMs(entry: Pick<EcosystemEntry, "resetRoundingMs">): number {
  return (Math.ceil(BURST / LIMIT) - 1) * (WINDOW_MS + entry.resetRoundingMs);
}

/** A catalogue server as a {@link Target}. */
export async function ecosystemTarget(entry: EcosystemEntry): Promise<Target> {
  const server = await startEcosystemServer(entry.kind, { limit: LIMIT, windowMs: WINDOW_MS });
  return {
    label: entry.label,
    readable: entry.readable,
    bestMs: bestMs(entry),
    urlFor: (run, i) => `${server.url}/${run}/${i}`,
    throttled: async (run) => server.counts(`/${run}`).throttled,
    stop: () => server.stop(),
  };
}

/** Our own stack (Redis, proxy, two workerd edges, NGINX): a token bucket of 10 refilling 5/s. */
export async function ourTarget(): Promise<Target> {
  const stack: EdgeStack = await startEdgeStack({ policies: burstPolicies(), instances: 2 });
  const gateway: Gateway = await startGateway(stack.edges.map((e) => e.url));
  return {
    label: "this project's edge (draft -11 + `erl-refill=continuous`)",
    readable: true,
    bestMs: ((BURST - LIMIT) / (LIMIT / (WINDOW_MS / 1000))) * 1000,
    urlFor: (run, i) => `${gateway.url}/demo-api/${run}/${i}`,
    throttled: (run) => serverDenials(stack, `demo-${run}`),
    async stop() {
      await gateway.stop();
      await stack.stop();
    },
  };
}

/** Every catalogue entry, then our own stack last. */
export const TARGET_ENTRIES = ECOSYSTEM;

async function burst(
  send: typeof fetch,
  url: (i: number) => string,
): Promise<{ statuses: number[]; ms: number }> {
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const res = await send(url(i));
      await res.arrayBuffer();
      return res.status;
    }),
  );
  return { statuses, ms: performance.now() - started };
}

/** The 429s a plain `fetch` burst on a fresh quota drew, by the server's count. */
export async function measurePlain(target: Target): Promise<number> {
  await burst(fetch, (i) => target.urlFor("plain", i));
  return target.throttled("plain");
}

/**
 * A fresh client at its defaults on a fresh quota (our stack keeps the plain and client bursts apart by
 * route, the catalogue servers by path), with `plain429` from {@link measurePlain}.
 *
 * @example
 * const row = await measureClient(target, createBackoffFetch, await measurePlain(target));
 */
export async function measureClient(
  target: Target,
  create: CreateBackoffFetch,
  plain429: number,
): Promise<Row> {
  const events: ThrottleEvent[] = [];
  const client = create({ onThrottle: (e) => events.push(e) });
  const { statuses, ms } = await burst(client, (i) => target.urlFor("client", i));
  return {
    label: target.label,
    readable: target.readable,
    bestMs: target.bestMs,
    plain429,
    client429: await target.throttled("client"),
    clientOk: statuses.filter((s) => s === 200).length,
    client429ToCaller: statuses.filter((s) => s === 429).length,
    ms,
    events,
  };
}

/**
 * Plain `fetch`, then the client, each on a fresh quota; the 429s are the server's own counts.
 *
 * @example
 * const row = await measure(await ecosystemTarget(ECOSYSTEM[0]), createBackoffFetch);
 */
export async function measure(target: Target, create: CreateBackoffFetch): Promise<Row> {
  return measureClient(target, create, await measurePlain(target));
}

/** The table, one markdown row per server. */
export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    "| server | plain `fetch` | backoff client | calls that ended 200 | time (best the headers allow) |",
    "|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const best = r.readable ? `${(r.bestMs / 1000).toFixed(1)} s` : "—";
    lines.push(
      `| ${r.label} | ${r.plain429} | ${r.client429} | ${r.clientOk} / ${BURST} | ${(r.ms / 1000).toFixed(1)} s (${best}) |`,
    );
  }
  return lines.join("\n");
}
