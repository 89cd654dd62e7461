/** @module The check API's request body and bucket keys: checked by hand, with the messages the API has always given. */
import { MAX_KEY_BYTES } from "../identity";
import type { Result } from "../result";

/** A valid `POST /v1/check` body. */
export interface CheckBody {
  policy: string;
  key: string;
  cost: number;
}

const FIELDS = ["policy", "key", "cost"];
const MAX_COST = 1_000_000;

// The wording of zod's defaults, which the API answered with before: clients may match on it.
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return typeof value;
}

function wrongType(expected: string, value: unknown): string {
  return `Invalid input: expected ${expected}, received ${typeName(value)}`;
}

// zod checked the length of anything that has one, so `[]` was both not text and empty.
function textProblems(value: unknown): string[] {
  const problems = typeof value === "string" ? [] : [wrongType("string", value)];
  const length = (value as { length?: unknown } | null | undefined)?.length;
  if (length !== undefined && length !== null && !((length as number) >= 1))
    problems.push("must not be empty");
  return problems;
}

/**
 * Why `key` can't name a bucket (empty, or longer than the identity limit), or nothing.
 *
 * @example
 * keyProblems(""); // ["must not be empty"]
 */
export function keyProblems(key: unknown): string[] {
  const problems = textProblems(key);
  if (typeof key !== "string") return problems;
  if (new TextEncoder().encode(key).byteLength > MAX_KEY_BYTES)
    problems.push(`must be at most ${MAX_KEY_BYTES} bytes`);
  return problems;
}

function costProblems(cost: unknown): string[] {
  if (typeof cost !== "number" || !Number.isFinite(cost)) return [wrongType("number", cost)];
  if (!Number.isInteger(cost)) return ["must be a whole number"];
  const problems = Number.isSafeInteger(cost) ? [] : ["must be a whole number"];
  if (cost < 0) problems.push("must be >= 0");
  if (cost > MAX_COST) problems.push(`must be <= ${MAX_COST}`);
  return problems;
}

/**
 * Validates a parsed JSON body: `{ policy, key, cost = 1 }` and nothing else. The error lists every problem
 * as `<field>: <reason>`, joined with "; ".
 *
 * @example
 * parseCheckBody({ policy: "api", key: "user-42" }); // { ok: true, value: { policy: "api", key: "user-42", cost: 1 } }
 */
export function parseCheckBody(json: unknown): Result<CheckBody> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, error: `body: ${wrongType("object", json)}` };
  }
  const body = json as Record<string, unknown>;
  const problems: string[] = [];
  const policy = body.policy;
  for (const reason of textProblems(policy)) problems.push(`policy: ${reason}`);
  for (const reason of keyProblems(body.key)) problems.push(`key: ${reason}`);
  const cost = body.cost === undefined ? 1 : body.cost;
  for (const reason of costProblems(cost)) problems.push(`cost: ${reason}`);
  const unknown = Object.keys(body).filter((name) => !FIELDS.includes(name));
  if (unknown.length > 0) {
    const names = unknown.map((name) => `"${name}"`).join(", ");
    problems.push(`body: Unrecognized key${unknown.length > 1 ? "s" : ""}: ${names}`);
  }
  if (problems.length > 0) return { ok: false, error: problems.join("; ") };
  return { ok: true, value: { policy: policy as string, key: body.key as string, cost: cost as number } };
}
