/** @module Hex digests with Web Crypto, so the same code hashes in workerd, browsers and Node. */

/**
 * The hex digest of `text` (UTF-8).
 *
 * @example
 * await hexDigest("SHA-1", "abc"); // "a9993e364706816aba3e25717850c26c9cd0d89d"
 */
export async function hexDigest(algorithm: "SHA-1" | "SHA-256", text: string): Promise<string> {
  const digest = await crypto.subtle.digest(algorithm, new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
