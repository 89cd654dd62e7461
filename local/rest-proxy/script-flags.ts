/** @module --strip-script-flags: lets Redis 7.0 run scripts whose shebang names flags it does not know. */
import { createHash } from "node:crypto";
import type { RedisCommand } from "./commands";

// The flags Redis 7.0 accepts in a `#!lua flags=…` shebang; any other flag makes EVAL fail.
const KNOWN_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);

// Scripts are few (one per distinct Lua source); the cap only guards against a client sending endless variants.
const MAX_MAPPED_SCRIPTS = 10_000;

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * Removes shebang flags and options that stock Redis 7.0 rejects (such as `allow-key-locking`, which
 * @upstash/ratelimit 2.x scripts declare), keeping the known ones. Returns the script unchanged when it
 * has no shebang or nothing to strip. The shebang stays one line, so Lua line numbers do not move.
 *
 * @example
 * stripShebangFlags("#!lua flags=allow-key-locking,no-writes\nreturn 1");
 * // "#!lua flags=no-writes\nreturn 1"
 */
export function stripShebangFlags(script: string): string {
  if (!script.startsWith("#!")) return script;
  const end = script.indexOf("\n");
  const line = end === -1 ? script : script.slice(0, end);
  const [engine, ...options] = line.split(" ").filter((part) => part.length > 0);
  const kept: string[] = [];
  for (const option of options) {
    if (!option.startsWith("flags=")) continue;
    const flags = option
      .slice("flags=".length)
      .split(",")
      .filter((flag) => KNOWN_FLAGS.has(flag));
    if (flags.length > 0) kept.push(`flags=${flags.join(",")}`);
  }
  const rewritten = [engine, ...kept].join(" ");
  if (rewritten === line) return script;
  return end === -1 ? rewritten : rewritten + script.slice(end);
}

/** A command after rewriting, and the reply to give instead of Redis' (SCRIPT LOAD answers the original SHA). */
export interface RewrittenCommand {
  command: RedisCommand;
  replyOverride?: string;
}

/**
 * Rewrites EVAL, EVAL_RO and SCRIPT LOAD to carry the stripped script, and remembers which SHA1 the
 * client computed (of its original text) so a later EVALSHA/EVALSHA_RO with that SHA runs the
 * rewritten script. An unknown SHA passes through: Redis answers NOSCRIPT and the client falls back to
 * EVAL, which fills the map again (after a proxy restart, say).
 *
 * @example
 * const rewriter = createScriptFlagRewriter();
 * rewriter.rewrite({ name: "EVAL", spelled: "eval", args: ["#!lua flags=allow-key-locking\nreturn 1", "0"] });
 * // { command: { name: "EVAL", spelled: "eval", args: ["#!lua\nreturn 1", "0"] } }
 */
export function createScriptFlagRewriter(): {
  rewrite(command: RedisCommand, inTransaction?: boolean): RewrittenCommand;
} {
  const shaMap = new Map<string, string>();

  function remember(original: string, rewritten: string): string {
    const originalSha = sha1Hex(original);
    if (!shaMap.has(originalSha)) {
      if (shaMap.size >= MAX_MAPPED_SCRIPTS) shaMap.clear();
      shaMap.set(originalSha, sha1Hex(rewritten));
    }
    return originalSha;
  }

  function rewriteScriptArg(command: RedisCommand, index: number): { args: string[]; originalSha?: string } {
    const script = command.args[index];
    if (script === undefined) return { args: command.args };
    const stripped = stripShebangFlags(script);
    if (stripped === script) return { args: command.args };
    const args = command.args.slice();
    args[index] = stripped;
    return { args, originalSha: remember(script, stripped) };
  }

  return {
    rewrite(command: RedisCommand): RewrittenCommand {
      switch (command.name) {
        case "EVAL":
        case "EVAL_RO":
          return { command: { ...command, args: rewriteScriptArg(command, 0).args } };
        case "EVALSHA":
        case "EVALSHA_RO": {
          const sha = command.args[0];
          const mapped = sha === undefined ? undefined : shaMap.get(sha.toLowerCase());
          if (mapped === undefined) return { command };
          return { command: { ...command, args: [mapped, ...command.args.slice(1)] } };
        }
        case "SCRIPT": {
          if (command.args[0]?.toUpperCase() !== "LOAD") return { command };
          const { args, originalSha } = rewriteScriptArg(command, 1);
          const rewritten = { command: { ...command, args } };
          return originalSha === undefined ? rewritten : { ...rewritten, replyOverride: originalSha };
        }
        default:
          return { command };
      }
    },
  };
}
