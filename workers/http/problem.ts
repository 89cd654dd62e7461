/** @module RFC 9457 problem+json responses: every error this service answers names the problem in JSON. */

/**
 * Problem types registered by draft-ietf-httpapi-ratelimit-headers-11 (section 5, IANA "HTTP Problem
 * Types"). Both define the `violated-policies` member: the names as they appear in `RateLimit-Policy`.
 */
export const PROBLEM_TYPES = {
  /** 429: the request exceeds one or more quota policies. */
  quotaExceeded: "https://iana.org/assignments/http-problem-types#quota-exceeded",
  /** 503: the request can't be served now because the server's capacity is temporarily reduced. */
  temporaryReducedCapacity: "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity",
} as const;

/** Members of a problem beyond `title`, `status` and `detail`; `type` defaults to `about:blank`. */
export type ProblemMembers = { type?: string } & Record<string, unknown>;

/**
 * A `application/problem+json` response. Without a `type` in `extra` the problem is `about:blank`: its
 * meaning is the status code's, and `title` is the status text. `headers` (a plain object, taken by the
 * `Response` in one go) may carry more fields; `Content-Type` is set here.
 *
 * @example
 * return problem(400, "Bad Request", "cost: must be a whole number >= 0, got -1");
 * return problem(429, "Quota Exceeded", detail, { type: PROBLEM_TYPES.quotaExceeded, "violated-policies": ["burst"] });
 */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: ProblemMembers = {},
  headers: Record<string, string> = {},
): Response {
  return problemResponse(
    status,
    JSON.stringify({ type: "about:blank", title, status, detail, ...extra }),
    headers,
  );
}

/**
 * A problem+json response for a body already serialised (the hot 429 path keeps its constant part).
 *
 * @example
 * problemResponse(429, '{"type":"about:blank","title":"Too Many Requests","status":429}', {});
 */
export function problemResponse(status: number, body: string, headers: Record<string, string>): Response {
  headers["Content-Type"] = "application/problem+json";
  return new Response(body, { status, headers });
}
