/** @module Redis key names for buckets: `<prefix>:{<identity>}:<policy>:<limit>`, one hash slot per request. */
import { hexDigest } from "./digest";

const MAX_IDENTITY_BYTES = 128;
// `{`/`}` would break the Redis Cluster hash tag, control characters break logs and tooling, and the
// marker prefix is reserved so a raw identity can never collide with a hashed one.
const HASHED_MARKER = "~";
const UNSAFE = /[{}\p{Cc}]/u;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

const encoder = new TextEncoder();

/** The identity itself when it can sit inside the hash tag as it is; undefined when it must be hashed. */
function plainIdentity(identity: string): string | undefined {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only a long identity needs encoding to be measured.
  const short = identity.length * 3 <= MAX_IDENTITY_BYTES;
  const fits = short || encoder.encode(identity).byteLength <= MAX_IDENTITY_BYTES;
  const safe = identity.length > 0 && fits && !UNSAFE.test(identity) && !identity.startsWith(HASHED_MARKER);
  return safe ? identity : undefined;
}

/**
 * The identity as it appears inside the key's hash tag: itself when safe, otherwise a stable
 * `~<sha256 prefix>` (128 bits), so braces, control characters and very long values can't escape the tag.
 *
 * @example
 * await keyIdentity("203.0.113.7"); // "203.0.113.7"
 * await keyIdentity("a}b");         // "~3f1c…" (32 hex digits)
 */
export async function keyIdentity(identity: string): Promise<string> {
  return plainIdentity(identity) ?? HASHED_MARKER + (await hexDigest("SHA-256", identity)).slice(0, 32);
}

/** Throws for names the policies schema should already have rejected: a bug, not user input. */
function assertName(kind: string, value: string): void {
  if (!NAME.test(value)) throw new Error(`invalid ${kind} name for a Redis key: ${JSON.stringify(value)}`);
}

/**
 * The keys of one policy's buckets for any identity, with the names checked once: synchronous for an
 * identity that sits in the hash tag as it is (the common case), a promise when it must be hashed.
 *
 * @example
 * const keysOf = bucketKeyMaker("erl", "api", ["second", "day"]);
 * keysOf("203.0.113.7"); // ["erl:{203.0.113.7}:api:second", "erl:{203.0.113.7}:api:day"]
 */
export function bucketKeyMaker(
  prefix: string,
  policy: string,
  limitNames: readonly string[],
): (identity: string) => string[] | Promise<string[]> {
  assertName("prefix", prefix);
  assertName("policy", policy);
  for (const limit of limitNames) assertName("limit", limit);
  const head = `${prefix}:{`;
  const tails = limitNames.map((limit) => `}:${policy}:${limit}`);
  const keysFor = (tag: string) => tails.map((tail) => head + tag + tail);
  return function keysOf(identity) {
    const plain = plainIdentity(identity);
    return plain === undefined ? keyIdentity(identity).then(keysFor) : keysFor(plain);
  };
}

/**
 * The Redis keys of one request's buckets, one per limit, all in the slot of `{identity}`.
 *
 * @example
 * await bucketKeys("erl", "203.0.113.7", "api", ["second", "day"]);
 * // ["erl:{203.0.113.7}:api:second", "erl:{203.0.113.7}:api:day"]
 */
export async function bucketKeys(
  prefix: string,
  identity: string,
  policy: string,
  limitNames: readonly string[],
): Promise<string[]> {
  return bucketKeyMaker(prefix, policy, limitNames)(identity);
}

/** The name rule for prefixes, policies and limits (letters, digits, `_`, `.`, `-`; 1–64 characters). */
export const KEY_NAME_PATTERN = NAME;
