/** @module Reads a throttled answer's problem+json body (draft -11 problem types) for its `violated-policies`. */

/** How long a throttled answer's body may take before the client stops waiting for its policy names. */
export const PROBLEM_READ_TIMEOUT_MS = 1000;

/** Bodies larger than this are not problem details worth reading here. */
const MAX_PROBLEM_BYTES = 64 * 1024;

/**
 * `violated-policies` of a `application/problem+json` answer (draft-ietf-httpapi-ratelimit-headers-11
 * `quota-exceeded` and `temporary-reduced-capacity`): the names as they appear in `RateLimit-Policy`.
 * Reads a clone, so the caller's body stays unread. Anything else (another media type, broken JSON, a
 * member that is not an array of strings, a body slower than `timeoutMs`) gives `[]`.
 *
 * @example
 * const res = await fetch(url); // 429 {"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","violated-policies":["burst"]}
 * await readViolatedPolicies(res); // ["burst"]
 */
export async function readViolatedPolicies(
  response: Response,
  timeoutMs: number = PROBLEM_READ_TIMEOUT_MS,
): Promise<string[]> {
  const type = response.headers.get("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/problem+json" || !response.body || response.bodyUsed) return [];
  const length = Number(response.headers.get("Content-Length") ?? 0);
  if (length > MAX_PROBLEM_BYTES) return [];
  const copy = response.clone();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    const text = await Promise.race([copy.text(), late]);
    if (text === null) {
      await copy.body?.cancel().catch(() => {});
      return [];
    }
    return namesOf(JSON.parse(text));
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

function namesOf(body: unknown): string[] {
  if (typeof body !== "object" || body === null) return [];
  const names = (body as Record<string, unknown>)["violated-policies"];
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) return [];
  return names as string[];
}
