/** @module Who may do what: the full and the read-only token (header or `?_token=`), compared in constant time. */
import { createHash, timingSafeEqual } from "node:crypto";
import { hasFlag, list } from "@ioredis/commands";
import type { RedisCommand, Result } from "./commands";

/** What a request's token allows: every command, or only the ones Redis flags `readonly`. */
export type Access = "full" | "read";

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * The `_token` query parameter of a request URL, URL-decoded; `null` when there is none.
 *
 * @example
 * queryToken("/get/k?_token=s3cret"); // "s3cret"
 * queryToken("/get/k"); // null
 */
export function queryToken(url: string): string | null {
  const query = url.indexOf("?");
  if (query === -1) return null;
  for (const pair of url.slice(query + 1).split("&")) {
    if (!pair.startsWith("_token=")) continue;
    try {
      return decodeURIComponent(pair.slice(7).replaceAll("+", " "));
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Builds the token check. A request presents its token as `Authorization: Bearer <token>` or, when it
 * sends no Authorization header, as `?_token=<token>`. The presented token is hashed (SHA-256) and the
 * hash compared with both configured tokens' hashes by `crypto.timingSafeEqual`, always both, so timing
 * reveals neither a token's content, its length, nor which token was close. With no token configured
 * (`--insecure` on loopback) every request has full access.
 *
 * @example
 * const access = createAccessCheck({ token: "rw", readOnlyToken: "ro" });
 * access("Bearer rw", "/"); // "full"
 * access(undefined, "/get/k?_token=ro"); // "read"
 * access("Bearer nope", "/"); // null
 */
export function createAccessCheck(tokens: {
  token: string | null;
  readOnlyToken: string | null;
}): (header: string | undefined, url: string) => Access | null {
  if (tokens.token === null) return () => "full";
  const full = sha256(tokens.token);
  // Without a read-only token, compare against a hash no input can produce in practice, so the work
  // per request is the same either way.
  const read = sha256(tokens.readOnlyToken ?? `\0no read-only token\0${tokens.token}`);
  const hasReadOnly = tokens.readOnlyToken !== null;
  return function accessOf(header, url) {
    let presented: string | null;
    if (header) presented = header.startsWith("Bearer ") ? header.slice(7) : null;
    else presented = queryToken(url);
    if (presented === null) return null;
    const hash = sha256(presented);
    const isFull = timingSafeEqual(hash, full);
    const isRead = timingSafeEqual(hash, read);
    if (isFull) return "full";
    return isRead && hasReadOnly ? "read" : null;
  };
}

// From the command list rather than `exists()`/`hasFlag()` per request: those look names up in a plain
// object, where "constructor" or "__proto__" would count as commands.
const READ_ONLY_COMMANDS = new Set(
  list.filter((name) => hasFlag(name, "readonly")).map((name) => name.toUpperCase()),
);

/**
 * Whether the read-only token may run `command`: only commands Redis' command table flags `readonly`
 * (GET, MGET, SCAN, TTL, SORT_RO, EVAL_RO, EVALSHA_RO, FCALL_RO, …). Redis itself stops a `*_RO` script
 * from writing, so those cannot write either.
 *
 * @example
 * checkReadOnly({ name: "GET", spelled: "get", args: ["k"] }); // { ok: true, value: true }
 * checkReadOnly({ name: "SET", spelled: "set", args: ["k", "v"] }).ok; // false
 */
export function checkReadOnly(command: RedisCommand): Result<true> {
  if (READ_ONLY_COMMANDS.has(command.name)) return { ok: true, value: true };
  return {
    ok: false,
    error: `ERR proxy: ${command.name} is not allowed with the read-only token (it runs only commands Redis flags readonly)`,
  };
}
