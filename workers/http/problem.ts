/** @module RFC 9457 problem+json responses: every error this service answers names the problem in JSON. */

/**
 * A `application/problem+json` response.
 *
 * @example
 * return problem(400, "Invalid request", "cost: must be a whole number >= 0, got -1");
 */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers?: Headers,
): Response {
  const body = JSON.stringify({ type: "about:blank", title, status, detail, ...extra });
  const response = new Response(body, { status, headers });
  response.headers.set("Content-Type", "application/problem+json");
  return response;
}
