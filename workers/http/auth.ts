/** @module Bearer-token checks in constant time (hash both sides, compare every byte), for any runtime. */

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * True when `header` is `Bearer <expected>`. Comparing fixed-length digests byte by byte leaks neither the
 * token's length nor the position of the first difference.
 *
 * @example
 * await bearerMatches(request.headers.get("Authorization"), env.CHECK_API_TOKEN); // true | false
 */
export async function bearerMatches(header: string | null | undefined, expected: string): Promise<boolean> {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  const [given, wanted] = await Promise.all([sha256(match?.[1]?.trim() ?? ""), sha256(expected)]);
  let diff = match ? 0 : 1;
  for (let i = 0; i < wanted.length; i++) diff |= (given[i] ?? 0) ^ (wanted[i] ?? 0);
  return diff === 0;
}
