/** @module Scenario 4: Redis commands per decision (allowed, denied, cached-denied) for us and the peer, from INFO commandstats. */
import type { PeerRig } from "../peer-rig";
import { type CommandCounts, commandCounts, diffCounts, perDecision } from "../redis-stats";
import type { BenchContext } from "../support";

/** One phase of one side: what each decision cost Redis. */
export interface CommandPhase {
  side: "ours" | "peer";
  phase: "allowed" | "denied" | "cached-denied" | "allowed, 2 limits";
  decisions: number;
  /** Every command Redis ran per decision, script-internal ones included. */
  commandsPerDecision: number;
  /** Commands the client sent per decision (EVALSHA/EVAL): each is one HTTP request to the proxy. */
  clientCallsPerDecision: number;
  delta: CommandCounts;
}

export interface CommandsResult {
  phases: CommandPhase[];
}

const CLIENT_COMMANDS = ["evalsha", "eval", "evalsha_ro", "eval_ro", "script"];

async function requestAll(url: string, keys: string[], expected: number, source: string): Promise<void> {
  for (let i = 0; i < keys.length; i += 10) {
    await Promise.all(
      keys.slice(i, i + 10).map(async (key) => {
        const response = await fetch(url, { headers: { "x-client": key } });
        await response.arrayBuffer();
        const got = response.headers.get("x-decision-source");
        if (response.status !== expected || got !== source) {
          throw new Error(
            `commands: ${url} for ${key}: ${response.status} ${got}, expected ${expected} ${source}`,
          );
        }
      }),
    );
  }
}

/**
 * For each side: N fresh keys on the `tiny` policy (1 token per hour) are asked three times — allowed,
 * denied by Redis, denied from the in-isolate cache — then N keys once on `huge2` (two limits). The
 * commandstats delta of each phase ÷ N is the cost per decision. Scripts are loaded by a warm-up first.
 *
 * @example
 * const result = await runCommands(ctx, rig);
 */
export async function runCommands(ctx: BenchContext, rig: PeerRig): Promise<CommandsResult> {
  ctx.log("commands: INFO commandstats per decision, ours vs peer");
  const n = ctx.quick ? 50 : 300;
  const phases: CommandPhase[] = [];
  for (const side of ["ours", "peer"] as const) {
    for (const policy of ["tiny", "huge2"]) {
      await fetch(`${rig.edgeUrl}/${side}/${policy}`, { headers: { "x-client": "warm-up" } }).then((r) =>
        r.arrayBuffer(),
      );
    }
    const keys = Array.from({ length: n }, (_, i) => `cmd-${side}-${i}`);
    const steps = [
      { phase: "allowed", policy: "tiny", status: 200, source: "redis" },
      { phase: "denied", policy: "tiny", status: 429, source: "redis" },
      { phase: "cached-denied", policy: "tiny", status: 429, source: "denied_cache" },
      { phase: "allowed, 2 limits", policy: "huge2", status: 200, source: "redis" },
    ] as const;
    for (const step of steps) {
      const before = await commandCounts(rig.redis);
      await requestAll(`${rig.edgeUrl}/${side}/${step.policy}`, keys, step.status, step.source);
      const delta = diffCounts(before, await commandCounts(rig.redis));
      const clientCalls = CLIENT_COMMANDS.reduce((sum, name) => sum + (delta[name] ?? 0), 0);
      const row: CommandPhase = {
        side,
        phase: step.phase,
        decisions: n,
        commandsPerDecision: perDecision(delta, n),
        clientCallsPerDecision: Math.round((clientCalls / n) * 100) / 100,
        delta,
      };
      phases.push(row);
      ctx.log(
        `commands ${side} ${step.phase}: ${row.commandsPerDecision} commands/decision ` +
          `(${row.clientCallsPerDecision} from the client) ${JSON.stringify(delta)}`,
      );
    }
  }
  return { phases };
}
