/** @module The policies document: parse and validate it, compile it, match requests to its routes. */

import type { Result } from "../result";
import type { CompiledPolicies } from "./compile";
import { compilePolicies } from "./compile";
import { formatIssues } from "./errors";
import { validateDocument } from "./schema";

export {
  type CompiledCors,
  type CompiledPolicies,
  type CompiledPolicy,
  type CompiledRoute,
  compilePolicies,
  matchRoute,
  normalizePathname,
  pathPattern,
} from "./compile";
export { DEFAULT_POLICIES, DEFAULT_POLICIES_JSON } from "./defaults";
export { parseRefill, type RefillRate } from "./refill";
export {
  type KeySource,
  type LocalShare,
  type LocalShareDocument,
  type PoliciesDocument,
  type PolicyDocument,
  type RouteDocument,
  type ValidatedPoliciesDocument,
  validateDocument,
} from "./schema";

/**
 * Validates a policies document (JSON text or an already-parsed value) and compiles it. On failure the
 * error names each offending field path, its value and the reason, joined with "; ", so a bad `POLICIES`
 * variable can be fixed from the message alone.
 *
 * @example
 * const result = parsePolicies(env.POLICIES ?? DEFAULT_POLICIES_JSON);
 * if (!result.ok) throw new Error(`invalid POLICIES: ${result.error}`);
 * matchRoute(result.value, "GET", "/api/keys")?.policy.limits;
 */
export function parsePolicies(input: unknown): Result<CompiledPolicies> {
  let document = input;
  if (typeof input === "string") {
    try {
      document = JSON.parse(input);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, error: `policies document is not valid JSON: ${reason}` };
    }
  }
  const result = validateDocument(document);
  if (!result.ok) return { ok: false, error: formatIssues(result.issues, document) };
  return { ok: true, value: compilePolicies(result.value) };
}
