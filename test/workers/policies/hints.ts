/** @module The exact wording the policies errors must keep, and the helpers that parse edited documents: written once for the suites. */
import { type CompiledPolicies, DEFAULT_POLICIES, parsePolicies } from "../../../workers/policies";

export const REFILL_HINT =
  'is not a refill rate (expected "<tokens>/<period>", period ms|s|m|h|d, e.g. "5/s" or "100/10m")';

// biome-ignore lint/suspicious/noExplicitAny: tests break documents on purpose, in ways the types forbid.
export type Loose = any;

/** A fresh copy of the default document, edited by `edit`, then parsed. */
export function parseEdited(edit: (doc: Loose) => void) {
  const doc: Loose = structuredClone(DEFAULT_POLICIES);
  edit(doc);
  return parsePolicies(doc);
}

export function errorOf(result: ReturnType<typeof parsePolicies>): string {
  if (result.ok) throw new Error("expected the document to be rejected");
  return result.error;
}

export function compiled(input: unknown): CompiledPolicies {
  const result = parsePolicies(input);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

export const KEY_HINT =
  'is not a key source (expected "ip" or "header:<name>" with an HTTP header name, e.g. "header:x-api-key")';
export const NAME_HINT = 'is not a valid name (1 to 64 characters: letters, digits, "_", "." or "-")';
