/** @module Turns validation issues into messages that name the field path, the offending value and the reason. */
import type { Issue } from "./rules";

const PLAIN_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const MAX_SHOWN_CHARS = 80;

/**
 * A field path as a reader would write it in JavaScript: `policies.api.limits[1].refill`, with names that
 * aren't plain words quoted (`policies["v1.api"]`).
 *
 * @example
 * formatPath(["policies", "api", "limits", 1, "refill"]); // "policies.api.limits[1].refill"
 */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "document";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && PLAIN_SEGMENT.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/**
 * A short, unambiguous rendering of a value: JSON for scalars, and for long text or structures a summary,
 * so one bad entry can't drown the message.
 *
 * @example
 * describeValue("10/fortnight"); // '"10/fortnight"'
 * describeValue(new Array(50).fill(1)); // "an array of 50 entries"
 */
export function describeValue(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function" || typeof value === "symbol") return `a ${typeof value}`;
  if (value === undefined) return "undefined";
  const json = JSON.stringify(value);
  if (json.length <= MAX_SHOWN_CHARS) return json;
  if (typeof value === "string")
    return `${JSON.stringify(value.slice(0, MAX_SHOWN_CHARS - 10))}… (${value.length} characters)`;
  if (Array.isArray(value)) return `an array of ${value.length} entries`;
  return "an object";
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function formatIssue(issue: Issue, input: unknown): string {
  const path = issue.path;
  if (issue.kind === "field") return `${formatPath(path)}: ${issue.message}`;
  if (issue.kind === "name") {
    return `${formatPath(path)}: name ${JSON.stringify(String(path[path.length - 1]))} ${issue.message}`;
  }
  const value = valueAt(input, path);
  // JSON has no undefined: a value that isn't there is a required field left out.
  if (value === undefined) return `${formatPath(path)}: required field is missing`;
  return `${formatPath(path)}: ${describeValue(value)} ${issue.message}`;
}

/**
 * One message for all of a document's issues, joined with "; ".
 *
 * @example
 * formatIssues(checked.issues, input);
 * // 'policies.api.limits[1].refill: "10/fortnight" is not a refill rate (expected …)'
 */
export function formatIssues(issues: readonly Issue[], input: unknown): string {
  return issues.map((issue) => formatIssue(issue, input)).join("; ");
}
