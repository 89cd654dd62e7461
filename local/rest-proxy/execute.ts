/** @module Runs the three request kinds (one command, a pipeline, a transaction) and shapes Upstash's JSON answers. */
import {
  checkCommand,
  parseCommand,
  parseCommandList,
  type RedisCommand,
  type Result,
  type Route,
} from "./commands";
import { describeRedisError, encodeReply, isRedisReplyError } from "./encoding";
import type { RedisBackend } from "./redis-backend";
import { createScriptFlagRewriter, type RewrittenCommand } from "./script-flags";
import { checkReadOnly } from "./tokens";
import type { UpstashScripts } from "./upstash-scripts";

/** A finished answer: HTTP status and the serialised JSON body. */
export interface Answer {
  status: number;
  body: string;
}

/**
 * The request kinds, by path: `/`, `/pipeline`, `/multi-exec`, and a command already parsed (path-style).
 * `readOnly` requests (the read-only token) may run only commands Redis flags readonly.
 */
export interface Executor {
  single(raw: unknown, base64: boolean, readOnly: boolean): Promise<Answer>;
  pipeline(raw: unknown, base64: boolean, readOnly: boolean): Promise<Answer>;
  multiExec(raw: unknown, base64: boolean, readOnly: boolean): Promise<Answer>;
  command(command: RedisCommand, base64: boolean, readOnly: boolean): Promise<Answer>;
}

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

function resultBody(reply: unknown, base64: boolean, override: string | undefined): string {
  const value =
    override === undefined ? encodeReply(reply, base64) : encodeReply(Buffer.from(override), base64);
  return `{"result":${JSON.stringify(value)}}`;
}

/**
 * Binds the request kinds to a Redis backend and the command policy.
 *
 * @example
 * const executor = createExecutor(backend, { allowAllCommands: false, stripScriptFlags: false, timeoutMs: 1000 });
 * await executor.single(["incr", "hits"], false, false); // { status: 200, body: '{"result":1}' }
 */
export function createExecutor(
  backend: RedisBackend,
  options: {
    allowAllCommands: boolean;
    stripScriptFlags: boolean;
    timeoutMs: number;
    /** --upstash-semantics: Upstash's script rules (they include stripping flags). */
    scripts?: UpstashScripts | null;
  },
): Executor {
  const policy: Policy = {
    backend,
    allowAllCommands: options.allowAllCommands,
    timeoutMs: options.timeoutMs,
    rewriter: options.scripts ?? (options.stripScriptFlags ? createScriptFlagRewriter() : null),
  };
  return {
    single(raw, base64, readOnly) {
      const parsed = parseCommand(raw);
      if (!parsed.ok) return Promise.resolve({ status: 400, body: errorBody(parsed.error) });
      return one(policy, parsed.value, base64, readOnly);
    },
    command: (command, base64, readOnly) => one(policy, command, base64, readOnly),
    pipeline: (raw, base64, readOnly) => pipeline(policy, raw, base64, readOnly),
    multiExec: (raw, base64, readOnly) => multiExec(policy, raw, base64, readOnly),
  };
}

/** What every request kind runs against: fixed when the proxy starts. */
interface Policy {
  readonly backend: RedisBackend;
  readonly allowAllCommands: boolean;
  readonly timeoutMs: number;
  /** Rewrites scripts (their flags, Upstash's rules); `null` sends every command as it came. */
  readonly rewriter: { rewrite(command: RedisCommand, inTransaction: boolean): RewrittenCommand } | null;
}

type Runner = (command: RedisCommand) => Promise<unknown>;

/** The command as Redis should get it, with the reply the client should see if that differs. */
function prepare(policy: Policy, command: RedisCommand, inTransaction = false): RewrittenCommand {
  return policy.rewriter ? policy.rewriter.rewrite(command, inTransaction) : { command };
}

// The proxy's policy first (it also refuses names that are not commands), then the token's.
function permit(
  policy: Policy,
  command: RedisCommand,
  readOnly: boolean,
): Result<Route> & { status?: number } {
  const allowed = checkCommand(command, policy.allowAllCommands);
  if (!allowed.ok || !readOnly) return allowed;
  const reading = checkReadOnly(command);
  return reading.ok ? allowed : { ...reading, status: 403 };
}

/** Blocking commands get a connection of their own so they never stall the shared, pipelined ones. */
function send(policy: Policy, run: Runner, command: RedisCommand, route: Route): Promise<unknown> {
  return route === "shared" ? run(command) : policy.backend.runDedicated(command);
}

// One pipeline entry: `{"result"}` or `{"error"}`; never rejects, so Promise.all keeps every entry.
function entry(
  policy: Policy,
  run: Runner,
  command: RedisCommand,
  base64: boolean,
  readOnly: boolean,
): Promise<string> {
  const allowed = permit(policy, command, readOnly);
  if (!allowed.ok) return Promise.resolve(errorBody(allowed.error));
  const prepared = prepare(policy, command);
  return send(policy, run, prepared.command, allowed.value).then(
    (reply) => resultBody(reply, base64, prepared.replyOverride),
    (error: unknown) => errorBody(describeRedisError(error, policy.timeoutMs).message),
  );
}

/** One command (`/` or path-style): its refusal or Redis's failure becomes the HTTP status. */
function one(policy: Policy, command: RedisCommand, base64: boolean, readOnly: boolean): Promise<Answer> {
  const allowed = permit(policy, command, readOnly);
  if (!allowed.ok) return Promise.resolve({ status: allowed.status ?? 400, body: errorBody(allowed.error) });
  const prepared = prepare(policy, command);
  return send(policy, policy.backend.lane(), prepared.command, allowed.value).then(
    (reply) => ({ status: 200, body: resultBody(reply, base64, prepared.replyOverride) }),
    (error: unknown) => {
      const failure = describeRedisError(error, policy.timeoutMs);
      return { status: failure.status, body: errorBody(failure.message) };
    },
  );
}

/** `/pipeline`: every entry answers for itself, so one refused command does not fail the others. */
async function pipeline(policy: Policy, raw: unknown, base64: boolean, readOnly: boolean): Promise<Answer> {
  const parsed = parseCommandList(raw);
  if (!parsed.ok) return { status: 400, body: errorBody(parsed.error) };
  // All entries go to one connection in the same tick, so they ride one auto-pipelined write, in order.
  const run = policy.backend.lane();
  const entries = await Promise.all(
    parsed.value.map((command) => entry(policy, run, command, base64, readOnly)),
  );
  return { status: 200, body: `[${entries.join(",")}]` };
}

/** `/multi-exec`: all commands checked before any runs, then one MULTI/EXEC. */
async function multiExec(policy: Policy, raw: unknown, base64: boolean, readOnly: boolean): Promise<Answer> {
  const parsed = parseCommandList(raw);
  if (!parsed.ok) return { status: 400, body: errorBody(parsed.error) };
  const prepared: RewrittenCommand[] = [];
  for (const command of parsed.value) {
    // A refused command refuses the whole transaction: running the rest would break atomicity.
    const allowed = permit(policy, command, readOnly);
    if (!allowed.ok) return { status: allowed.status ?? 400, body: errorBody(allowed.error) };
    prepared.push(prepare(policy, command, true));
  }
  try {
    const results = await policy.backend.transaction(prepared.map((p) => p.command));
    const entries = results.map(([error, reply], i) =>
      error
        ? errorBody(
            isRedisReplyError(error) ? error.message : describeRedisError(error, policy.timeoutMs).message,
          )
        : resultBody(reply, base64, prepared[i]?.replyOverride),
    );
    return { status: 200, body: `[${entries.join(",")}]` };
  } catch (error) {
    const failure = describeRedisError(error, policy.timeoutMs);
    return { status: failure.status, body: errorBody(failure.message) };
  }
}
