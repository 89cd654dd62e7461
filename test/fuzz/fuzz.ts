/** @module Shared pieces of the fuzz suites: the seed, run parameters, hostile strings, batching and key checks. */
import { request } from "node:http";
import clusterKeySlot from "cluster-key-slot";
import fc from "fast-check";
import type { Redis as IoRedis } from "ioredis";

/**
 * One seed for every suite, so a failure replays exactly: `FUZZ_SEED=<n> npx vitest run test/fuzz`.
 * fast-check prints the seed (and the shrink path) in every failure message.
 */
export const SEED = Number(process.env.FUZZ_SEED ?? 20_260_501);

/** fast-check parameters: an explicit run count and the fixed seed. */
export function params<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { numRuns, seed: SEED, ...extra };
}

/** Prints how many generated inputs a target got, for the closing note. */
export function report(target: string, inputs: number, extra = ""): void {
  console.log(`[fuzz] ${target}: ${inputs} generated inputs (seed ${SEED})${extra ? `; ${extra}` : ""}`);
}

/** Any UTF-16 code unit, lone surrogates included (what `JSON.parse` of `"\ud800"` hands the app). */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Characters that break naive key building, parsing and logging. */
const nasty = fc.constantFrom(
  "{",
  "}",
  "{}",
  "}{",
  ":",
  "*",
  "?",
  "\0",
  "\r\n",
  "\n",
  "\t",
  "\x1b[31m",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u202e",
  "\ufeff",
  "\ud800",
  "\udfff",
  "😀",
  "é",
  "ß",
  "%",
  "%00",
  "%2F",
  "%7B",
  "%zz",
  "../",
  "~",
  "\\",
  '"',
  "'",
  "__proto__",
  "constructor",
);

/** Strings built from ASCII, full Unicode, raw code units and the characters above, up to `maxLength` units. */
export function hostileString(maxLength = 40): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: anyCodeUnit },
      { weight: 2, arbitrary: nasty },
    ),
    maxLength,
  });
}

/** A string of `length` copies of a random character, for size limits (1 KiB boundaries, megabyte blobs). */
export function longString(lengths: number[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...lengths), fc.constantFrom("a", "{", "é", "😀", "\0"))
    .map(([n, ch]) => ch.repeat(Math.max(1, Math.floor(n / ch.length))));
}

/** Runs `fn` over `items`, `size` at a time concurrently; results keep the input order. */
export async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>) {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  }
  return out;
}

/** Every key in Redis, by SCAN (never KEYS on a server someone else may share). */
export async function allKeys(raw: IoRedis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await raw.scan(cursor, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

const HASHED = /^~[0-9a-f]{32}$/;
// What `keyIdentity` lets through unhashed: no braces, no control characters, at most 128 bytes, not `~…`.
const UNSAFE = /[{}\p{Cc}]/u;

/**
 * The ways `key` breaks the bucket-key contract for `prefix` and the policies' limit names
 * (`<prefix>:{<tag>}:<policy>:<limit>`, one slot per tag); an empty list when it keeps it.
 */
export function keyProblems(key: string, prefix: string, limits: ReadonlyMap<string, readonly string[]>) {
  const problems: string[] = [];
  if (!key.startsWith(`${prefix}:{`)) return [`not under "${prefix}:{": ${JSON.stringify(key)}`];
  const close = key.indexOf("}", prefix.length + 2);
  if (close < 0) return [`no closing brace: ${JSON.stringify(key)}`];
  const tag = key.slice(prefix.length + 2, close);
  const rest = key.slice(close + 2).split(":");
  if (key[close + 1] !== ":" || rest.length !== 2) problems.push(`tail is not ":<policy>:<limit>"`);
  const [policy = "", limit = ""] = rest;
  if (!limits.get(policy)?.includes(limit)) problems.push(`unknown policy/limit ${policy}:${limit}`);
  if (tag.length === 0) problems.push("empty hash tag");
  if (!HASHED.test(tag)) {
    if (UNSAFE.test(tag)) problems.push("hash tag holds braces or control characters");
    if (Buffer.byteLength(tag) > 128) problems.push("hash tag longer than 128 bytes");
    if (tag.startsWith("~")) problems.push("unhashed tag starts with the reserved ~");
  }
  // Redis hashes only what is between the first "{" and the next "}": that must be the whole tag.
  if (clusterKeySlot(key) !== clusterKeySlot(tag)) problems.push("slot differs from the tag's slot");
  return problems.map((p) => `${p}: ${JSON.stringify(key)}`);
}

/** Asserts every key in Redis keeps the bucket-key contract and the keys of one tag+policy share a slot. */
export async function namespaceViolations(
  raw: IoRedis,
  prefix: string,
  limits: ReadonlyMap<string, readonly string[]>,
): Promise<{ keys: string[]; violations: string[] }> {
  const keys = await allKeys(raw);
  const violations = keys.flatMap((k) => keyProblems(k, prefix, limits));
  const slots = new Map<string, Set<number>>();
  for (const key of keys) {
    const group = key.slice(0, key.lastIndexOf(":"));
    const set = slots.get(group) ?? new Set<number>();
    set.add(clusterKeySlot(key));
    slots.set(group, set);
  }
  for (const [group, set] of slots)
    if (set.size !== 1) violations.push(`${group}: keys in ${set.size} slots`);
  return { keys, violations };
}

/** Limit names by policy name, from a policies document as written. */
export function limitNames(doc: {
  policies: Record<string, { limits: { name: string }[] }>;
}): Map<string, string[]> {
  return new Map(Object.entries(doc.policies).map(([name, p]) => [name, p.limits.map((l) => l.name)]));
}

/**
 * A raw HTTP/1.1 request that still reads the answer when the server closes the connection before the
 * whole body is written (NGINX and the proxy do after a 413; fetch reports that as a failure), and that
 * sends header sizes fetch would not.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers["Content-Length"] = Buffer.byteLength(options.body);
    const req = request(url, { method: options.method ?? "GET", headers });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body: text }),
      );
    });
    // EPIPE/ECONNRESET while still writing is expected once the server has answered and closed.
    req.on("error", (error) => setTimeout(() => reject(error), 1000));
    req.end(options.body);
  });
}
