/** @module Command policy: turning a JSON command into Redis arguments, and which commands the proxy refuses. */

import type { Result } from "../../workers/result";

// Parse and policy outcomes are the project's one Result: errors as values the HTTP layer answers as JSON.
export type { Result };

/** A command ready for Redis. */
export interface RedisCommand {
  /** Upper-cased, for the policy checks. */
  name: string;
  /** As the client spelled it, so Redis errors that echo the name stay verbatim. */
  spelled: string;
  args: string[];
}

/**
 * Reads one command from a parsed JSON body: a non-empty array whose first element is the command name.
 * JSON numbers and booleans become strings, as Upstash does; anything else (null, objects, nested
 * arrays) is refused because Redis arguments are strings.
 *
 * @example
 * parseCommand(["set", "k", 1]); // { ok: true, value: { name: "SET", spelled: "set", args: ["k", "1"] } }
 * parseCommand([]); // { ok: false, error: "ERR proxy: empty command" }
 */
export function parseCommand(raw: unknown): Result<RedisCommand> {
  if (!Array.isArray(raw)) return { ok: false, error: "ERR proxy: a command must be a JSON array" };
  if (raw.length === 0) return { ok: false, error: "ERR proxy: empty command" };
  const first = raw[0];
  if (typeof first !== "string" || first.length === 0) {
    return { ok: false, error: "ERR proxy: the command name must be a non-empty string" };
  }
  const args: string[] = new Array(raw.length - 1);
  for (let i = 1; i < raw.length; i++) {
    const arg = raw[i];
    if (typeof arg === "string") args[i - 1] = arg;
    else if (typeof arg === "number" || typeof arg === "boolean") args[i - 1] = String(arg);
    else return { ok: false, error: `ERR proxy: argument ${i} must be a string, number or boolean` };
  }
  return { ok: true, value: { name: first.toUpperCase(), spelled: first, args } };
}

/**
 * Reads the body of `/pipeline` or `/multi-exec`: a non-empty array of commands.
 *
 * @example
 * parseCommandList([["incr", "a"], ["get", "a"]]); // { ok: true, value: [ …two commands… ] }
 */
export function parseCommandList(raw: unknown): Result<RedisCommand[]> {
  if (!Array.isArray(raw))
    return { ok: false, error: "ERR proxy: the body must be a JSON array of commands" };
  if (raw.length === 0) return { ok: false, error: "ERR proxy: empty pipeline" };
  const commands: RedisCommand[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const parsed = parseCommand(raw[i]);
    if (!parsed.ok) return { ok: false, error: `${parsed.error} (command ${i + 1})` };
    commands[i] = parsed.value;
  }
  return { ok: true, value: commands };
}

/** Where an allowed command runs: on the shared auto-pipelined connection, or on one of its own. */
export type Route = "shared" | "dedicated";

// Commands that would change the state of the shared connection every request rides on (database,
// transaction, protocol, subscriber or monitor mode, reply suppression). Never allowed, not even with
// --allow-all-commands: transactions go through /multi-exec instead.
const CONNECTION_STATE = new Set([
  "SELECT",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "HELLO",
  "RESET",
  "QUIT",
  "AUTH",
  "MONITOR",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "CLIENT REPLY",
  "CLIENT TRACKING",
]);

// Commands that wipe data, reconfigure, stop or stall the server; allowed only with --allow-all-commands.
const DANGEROUS = new Set([
  "FLUSHALL",
  "FLUSHDB",
  "SWAPDB",
  "CONFIG",
  "DEBUG",
  "SHUTDOWN",
  "REPLICAOF",
  "SLAVEOF",
  "SYNC",
  "PSYNC",
  "MODULE",
  "ACL",
  "SAVE",
  "BGSAVE",
  "BGREWRITEAOF",
  "MIGRATE",
  "FAILOVER",
  "SCRIPT KILL",
  "FUNCTION KILL",
  "FUNCTION FLUSH",
  "CLIENT KILL",
  "CLIENT PAUSE",
]);

// Commands that block the connection they run on; with --allow-all-commands they get a connection of
// their own so they cannot stall everyone else's requests.
const BLOCKING = new Set([
  "BLPOP",
  "BRPOP",
  "BLMOVE",
  "BRPOPLPUSH",
  "BZPOPMIN",
  "BZPOPMAX",
  "BLMPOP",
  "BZMPOP",
  "WAIT",
  "WAITAOF",
]);

// ioredis looks command names up in plain objects (argument/reply transformers, command flags), so names
// of Object.prototype members hit them: "valueOf", "hasOwnProperty" or "__proto__" crash the process,
// "toString" rewrites the arguments, and "constructor" counts as a command that disconnects, so the shared
// connection never reconnects after its next drop. No Redis command has such a name: refuse them before
// ioredis sees them (found by test/fuzz/proxy.fuzz.test.ts).
const OBJECT_PROTOTYPE_NAMES = new Set(
  Object.getOwnPropertyNames(Object.prototype).map((n) => n.toUpperCase()),
);

// Only these have subcommands in the lists above; checking the name first keeps the common path to one lookup.
const HAS_LISTED_SUBCOMMANDS = new Set(["SCRIPT", "FUNCTION", "CLIENT"]);

function displayName(command: RedisCommand): string {
  if (HAS_LISTED_SUBCOMMANDS.has(command.name) && command.args.length > 0) {
    return `${command.name} ${(command.args[0] as string).toUpperCase()}`;
  }
  return command.name;
}

function isBlockingStreamRead(command: RedisCommand): boolean {
  if (command.name !== "XREAD" && command.name !== "XREADGROUP") return false;
  return command.args.some((arg) => arg.toUpperCase() === "BLOCK");
}

/**
 * Decides whether the proxy runs `command`, and where. Refusals name the command so the caller knows
 * what was rejected and why.
 *
 * @example
 * checkCommand({ name: "FLUSHALL", spelled: "flushall", args: [] }, false);
 * // { ok: false, error: "ERR proxy: FLUSHALL is refused by the proxy (start it with --allow-all-commands to allow it)" }
 * checkCommand({ name: "GET", spelled: "get", args: ["k"] }, false); // { ok: true, value: "shared" }
 */
export function checkCommand(command: RedisCommand, allowAll: boolean): Result<Route> {
  if (OBJECT_PROTOTYPE_NAMES.has(command.name)) {
    return { ok: false, error: `ERR proxy: '${command.spelled}' is not a Redis command` };
  }
  const name = displayName(command);
  if (CONNECTION_STATE.has(name)) {
    const hint = name === "MULTI" || name === "EXEC" ? "; send transactions to /multi-exec" : "";
    return {
      ok: false,
      error: `ERR proxy: ${name} is not supported (it would change the shared Redis connection)${hint}`,
    };
  }
  const blocking = BLOCKING.has(name) || isBlockingStreamRead(command);
  if (!allowAll && (blocking || DANGEROUS.has(name))) {
    return {
      ok: false,
      error: `ERR proxy: ${name} is refused by the proxy (start it with --allow-all-commands to allow it)`,
    };
  }
  return { ok: true, value: blocking ? "dedicated" : "shared" };
}
