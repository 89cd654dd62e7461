/** @module --upstash-semantics: Upstash's script rules emulated on stock Redis (key locking, undeclared keys, the global lock). */
import { createHash } from "node:crypto";
import type { RedisCommand } from "./commands";
import { type RewrittenCommand, stripShebangFlags } from "./script-flags";
import { guardScript } from "./upstash-guard";

/** Upstash's shebang flag: lock only the keys in KEYS. */
export const KEY_LOCKING_FLAG = "allow-key-locking";

/** The lock Upstash would take for a script call. */
export type ScriptLock = "key" | "global";

/** What the proxy knows of a script it has seen: the SHA1 Redis knows it by, and the lock it takes. */
interface KnownScript {
  runSha: string;
  lock: ScriptLock;
}

/** Options of the emulation. */
export interface UpstashScriptOptions {
  /** Where the once-per-script notes go. */
  log: (line: string) => void;
  /** Make `TIME` fail inside scripts, as a store that forbids clock reads in scripts would (a test aid). */
  refuseTime?: boolean;
}

/** Rewrites script commands for Upstash's semantics and counts them; `GET /metrics` renders the counts. */
export interface UpstashScripts {
  rewrite(command: RedisCommand, inTransaction?: boolean): RewrittenCommand;
  /** Prometheus text: `proxy_script_calls_total{lock}`. */
  metrics(): string;
}

// Scripts are few (one per distinct Lua source); the cap only guards against endless variants.
const MAX_KNOWN_SCRIPTS = 10_000;
/**
 * EVALSHA of a script this proxy has not seen goes to Redis as this digest, which no script has: Redis
 * answers NOSCRIPT, the client sends the body with EVAL, and the proxy learns its flags. So every script
 * that runs has been checked, even when Redis kept a script cache across a proxy restart.
 */
const UNSEEN_SHA = sha1Hex("edge-rate-limiter: a script this proxy has not seen");

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

function flagsOf(script: string): string[] {
  if (!script.startsWith("#!")) return [];
  const end = script.indexOf("\n");
  const line = end === -1 ? script : script.slice(0, end);
  return line
    .split(" ")
    .filter((part) => part.startsWith("flags="))
    .flatMap((part) => part.slice("flags=".length).split(","));
}

/**
 * Upstash's script semantics on a stock Redis 7.0: a script flagged `allow-key-locking` may touch only
 * the keys in KEYS and no database-wide command (it is refused with an error otherwise), a script without
 * the flag (or inside MULTI/EXEC) would take Upstash's global lock, so it is counted and named once in
 * the log. Flags Redis 7.0 does not know are stripped, and EVALSHA of the client's SHA1 runs the
 * rewritten script (as `--strip-script-flags` does).
 *
 * @example
 * const scripts = createUpstashScripts({ log: console.error });
 * scripts.rewrite({ name: "EVAL", spelled: "eval", args: ["#!lua flags=allow-key-locking\nreturn 1", "0"] });
 */
export function createUpstashScripts(options: UpstashScriptOptions): UpstashScripts {
  const state: ScriptState = { options, known: new Map(), calls: { global: 0, key: 0 } };
  return {
    rewrite: (command, inTransaction = false) => rewrite(state, command, inTransaction),
    metrics: () => renderMetrics(state.calls),
  };
}

/** The scripts this proxy has seen and the calls counted by lock, for the proxy's lifetime. */
interface ScriptState {
  readonly options: UpstashScriptOptions;
  readonly known: Map<string, KnownScript>;
  readonly calls: Record<ScriptLock, number>;
}

/** A script as sent by a client: its SHA1, what the proxy knows of it, and the text Redis should run. */
interface SeenScript {
  sha: string;
  known: KnownScript;
  text: string;
}

function rewrite(state: ScriptState, command: RedisCommand, inTransaction: boolean): RewrittenCommand {
  switch (command.name) {
    case "EVAL":
    case "EVAL_RO":
      return rewriteEval(state, command, inTransaction);
    case "EVALSHA":
    case "EVALSHA_RO":
      return rewriteEvalSha(state, command, inTransaction);
    case "SCRIPT":
      return rewriteScriptCommand(state, command);
    default:
      return { command };
  }
}

function rewriteEval(state: ScriptState, command: RedisCommand, inTransaction: boolean): RewrittenCommand {
  const script = command.args[0];
  if (script === undefined) return { command };
  const seen = learn(state, script);
  count(state, seen.known, inTransaction);
  return { command: { ...command, args: [seen.text, ...command.args.slice(1)] } };
}

function rewriteEvalSha(state: ScriptState, command: RedisCommand, inTransaction: boolean): RewrittenCommand {
  const sha = command.args[0];
  if (sha === undefined) return { command };
  const script = state.known.get(sha.toLowerCase());
  if (script) count(state, script, inTransaction);
  const runSha = script?.runSha ?? UNSEEN_SHA;
  return { command: { ...command, args: [runSha, ...command.args.slice(1)] } };
}

// SCRIPT EXISTS answers for the client's SHA1s and SCRIPT LOAD replies with it, though Redis knows the
// rewritten script by another.
function rewriteScriptCommand(state: ScriptState, command: RedisCommand): RewrittenCommand {
  const sub = command.args[0]?.toUpperCase();
  if (sub === "EXISTS") {
    const shas = command.args.slice(1).map((s) => state.known.get(s.toLowerCase())?.runSha ?? UNSEEN_SHA);
    return { command: { ...command, args: [command.args[0] as string, ...shas] } };
  }
  const script = command.args[1];
  if (sub !== "LOAD" || script === undefined) return { command };
  const seen = learn(state, script);
  return {
    command: { ...command, args: [command.args[0] as string, seen.text] },
    replyOverride: seen.sha,
  };
}

function learn(state: ScriptState, script: string): SeenScript {
  const { options, known } = state;
  const sha = sha1Hex(script);
  const flags = flagsOf(script);
  const lock: ScriptLock = flags.includes(KEY_LOCKING_FLAG) ? "key" : "global";
  const stripped = stripShebangFlags(script);
  const text = guardScript(stripped, {
    checkKeys: lock === "key",
    refuseTime: options.refuseTime ?? false,
  });
  if (!known.has(sha)) {
    if (known.size >= MAX_KNOWN_SCRIPTS) known.clear();
    known.set(sha, { runSha: sha1Hex(text), lock });
    noteNewScript(options.log, sha, lock, flags, stripped !== script);
  }
  return { sha, known: known.get(sha) as KnownScript, text };
}

// Once per script, so a client that sends it on every call does not flood the log.
function noteNewScript(
  log: (line: string) => void,
  sha: string,
  lock: ScriptLock,
  flags: string[],
  stripped: boolean,
): void {
  if (lock === "global")
    log(
      `rest-proxy: script ${sha} has no ${KEY_LOCKING_FLAG} flag: on Upstash it runs under the global lock (one script at a time, database-wide)`,
    );
  if (stripped)
    log(
      `rest-proxy: script ${sha}: shebang flags Redis 7.0 does not know (${flags.join(",")}) are stripped; ${KEY_LOCKING_FLAG} is emulated (only KEYS may be touched)`,
    );
}

function count(state: ScriptState, script: KnownScript, inTransaction: boolean): void {
  // Upstash runs a script queued in MULTI/EXEC under the global lock, flag or not.
  state.calls[inTransaction ? "global" : script.lock]++;
}

function renderMetrics(calls: Record<ScriptLock, number>): string {
  return [
    "# HELP proxy_script_calls_total Script calls (EVAL, EVALSHA and their _RO forms) by the lock Upstash would take: key (allow-key-locking) or global.",
    "# TYPE proxy_script_calls_total counter",
    `proxy_script_calls_total{lock="global"} ${calls.global}`,
    `proxy_script_calls_total{lock="key"} ${calls.key}`,
    "",
  ].join("\n");
}
