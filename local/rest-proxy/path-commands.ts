/** @module Upstash's path-style commands: `/set/foo/bar/EX/100`, a request body as the last argument, query options after it. */
import type { RedisCommand, Result } from "./commands";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodePart(text: string, plusIsSpace: boolean): string | null {
  try {
    return decodeURIComponent(plusIsSpace ? text.replaceAll("+", " ") : text);
  } catch {
    // A malformed escape (`%G1`) or bytes that are not UTF-8 (`%FF`): Redis arguments here are text.
    return null;
  }
}

/**
 * Reads a path-style command. Every path segment is one argument, URL-decoded (`%2F` is a slash inside
 * an argument, `+` stays a plus; an empty segment is an empty argument). A non-empty request body is the
 * last argument as it is, byte for byte. Query parameters other than `_token` come after it, each as its
 * name then its value when it has one (`?EX=100` adds `EX 100`, `?NX` adds `NX`), which is how Upstash
 * lets options follow a value sent as the body. Arguments must be UTF-8 text.
 *
 * @example
 * parsePathCommand("/set/foo/bar", "EX=100", null);
 * // { ok: true, value: { name: "SET", spelled: "set", args: ["foo", "bar", "EX", "100"] } }
 * parsePathCommand("/set/foo", "", Buffer.from('{"a":1}'));
 * // { ok: true, value: { name: "SET", spelled: "set", args: ["foo", '{"a":1}'] } }
 */
export function parsePathCommand(path: string, query: string, body: Buffer | null): Result<RedisCommand> {
  const segments = path.slice(1).split("/");
  const parts: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const decoded = decodePart(segments[i] as string, false);
    if (decoded === null) {
      return {
        ok: false,
        error: `ERR proxy: path segment ${i + 1} is not valid URL-encoded UTF-8 (arguments must be text)`,
      };
    }
    parts.push(decoded);
  }
  const spelled = parts.shift() as string;
  if (spelled.length === 0) return { ok: false, error: "ERR proxy: empty command name in the path" };
  if (body !== null && body.length > 0) {
    try {
      parts.push(strictUtf8.decode(body));
    } catch {
      return { ok: false, error: "ERR proxy: the request body is not valid UTF-8 text" };
    }
  }
  const options = queryOptions(query);
  if (!options.ok) return options;
  parts.push(...options.value);
  return { ok: true, value: { name: spelled.toUpperCase(), spelled, args: parts } };
}

function queryOptions(query: string): Result<string[]> {
  const args: string[] = [];
  if (query === "") return { ok: true, value: args };
  for (const pair of query.split("&")) {
    if (pair === "" || pair.startsWith("_token=") || pair === "_token") continue;
    const equals = pair.indexOf("=");
    const name = decodePart(equals === -1 ? pair : pair.slice(0, equals), true);
    const value = equals === -1 ? "" : decodePart(pair.slice(equals + 1), true);
    // Never echo the parameter itself: the query string is where tokens travel.
    if (name === null || value === null) {
      return { ok: false, error: "ERR proxy: a query parameter is not valid URL-encoded UTF-8" };
    }
    args.push(name);
    if (value !== "") args.push(value);
  }
  return { ok: true, value: args };
}

/**
 * Splits a request URL into its path and its query string (without the `?`).
 *
 * @example
 * splitUrl("/get/k?_token=t"); // { path: "/get/k", query: "_token=t" }
 */
export function splitUrl(url: string | undefined): { path: string; query: string } {
  const raw = url ?? "/";
  const mark = raw.indexOf("?");
  return mark === -1 ? { path: raw, query: "" } : { path: raw.slice(0, mark), query: raw.slice(mark + 1) };
}
