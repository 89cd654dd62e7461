/** @module Validation rules for JSON documents: valibot for the leaves, a small structural walk that keeps every issue. */
import * as v from "valibot";

/** One problem with a document: where it is, why, and how the message names the spot. */
export interface Issue {
  path: PropertyKey[];
  message: string;
  /** `value`: "<path>: <value> <message>"; `name`: a rejected object key; `field`: an unknown field. */
  kind: "value" | "name" | "field";
  /**
   * The value has the wrong type or can't be parsed, so checks across fields that contain it are skipped
   * (they would only repeat it). A value that is merely out of range or badly spelt still reaches them.
   */
  abort: boolean;
}

/** What a rule returns when it has no value to give (its issues are already recorded). */
export const INVALID: unique symbol = Symbol("invalid");
export type Invalid = typeof INVALID;

/** Checks one value at `at`, recording issues; returns its parsed form or {@link INVALID}. */
export type Rule<T> = (input: unknown, at: PropertyKey[], issues: Issue[]) => T | Invalid;

/** A rule per field of `T`, in the order the document's fields are checked (and reported). */
export type Fields<T> = { [K in keyof T]-?: Rule<T[K]> };

/**
 * Whether an issue recorded since `before` makes the value unusable for checks across fields.
 *
 * @example
 * if (!aborted(issues, before)) refine(value);
 */
export function aborted(issues: readonly Issue[], before: number): boolean {
  return issues.slice(before).some((issue) => issue.abort);
}

/**
 * A rule from a valibot schema: any failure is one issue with the fixed `reason`; with `abort` false the
 * input still flows on as the value (a misspelt name can still be compared with the others).
 *
 * @example
 * const name = leaf(v.pipe(v.string(), v.regex(/^[a-z]+$/)), "is not a name");
 */
export function leaf<T>(schema: v.GenericSchema<unknown, T>, reason: string, abort = true): Rule<T> {
  return function checkLeaf(input, at, issues) {
    const result = v.safeParse(schema, input);
    if (result.success) return result.output;
    issues.push({ path: at, message: reason, kind: "value", abort });
    return abort ? INVALID : (input as T);
  };
}

/**
 * A rule that takes `undefined` (a field left out) as `fallback`.
 *
 * @example
 * const onError = optional(leaf(v.picklist(["open", "closed"]), "is not open/closed"), "open");
 */
export function optional<T, D extends T | undefined = undefined>(rule: Rule<T>, fallback?: D): Rule<T | D> {
  return function checkOptional(input, at, issues) {
    return input === undefined ? (fallback as D) : rule(input, at, issues);
  };
}

function isObject(input: unknown): input is Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input);
}

/**
 * An object with exactly the given fields. Every field is checked and every unknown field reported (valibot's
 * strictObject stops at the first); unless a field aborted, `refine` then checks across fields.
 *
 * @example
 * const point = strictObject<{ x: number }>({ x: integer(0, 9, "is not a digit") }, "is not an object");
 */
export function strictObject<T extends object>(
  fields: Fields<T>,
  reason: string,
  refine?: (value: Partial<T>, at: PropertyKey[], issues: Issue[]) => void,
): Rule<T> {
  const names = Object.keys(fields) as (keyof T & string)[];
  const unknownReason = `unknown field (expected one of: ${names.join(", ")})`;
  return function checkObject(input, at, issues) {
    if (!isObject(input)) {
      issues.push({ path: at, message: reason, kind: "value", abort: true });
      return INVALID;
    }
    const before = issues.length;
    const value: Partial<T> = {};
    for (const name of names) {
      const field = fields[name](Object.hasOwn(input, name) ? input[name] : undefined, [...at, name], issues);
      if (field !== INVALID && field !== undefined) value[name] = field;
    }
    for (const name of Object.keys(input)) {
      if (!Object.hasOwn(fields, name))
        issues.push({ path: [...at, name], message: unknownReason, kind: "field", abort: false });
    }
    if (aborted(issues, before)) return INVALID;
    refine?.(value, at, issues);
    return value as T;
  };
}

/**
 * An array, optionally of `min`..`max` entries: a wrong length is the only issue reported for it, otherwise
 * each entry is checked, then (unless an entry aborted) `refine` sees the entries.
 *
 * @example
 * const tags = list(leaf(v.string(), "is not text"), "is not a list", { min: 1, max: 8, lengthReason: "must list 1 to 8" });
 */
export function list<T>(
  item: Rule<T>,
  reason: string,
  bounds: { min: number; max?: number; lengthReason: string } | null,
  refine?: (entries: (T | Invalid)[], at: PropertyKey[], issues: Issue[]) => void,
): Rule<T[]> {
  return function checkList(input, at, issues) {
    const length = (input as { length?: unknown } | null)?.length;
    const outOfBounds =
      bounds && typeof length === "number" && (length < bounds.min || length > (bounds.max ?? length));
    // As zod did, text of the wrong length draws both messages: it is not a list, and its length is wrong.
    if (!Array.isArray(input)) issues.push({ path: at, message: reason, kind: "value", abort: true });
    if (outOfBounds) {
      // Only the length is reported, but entries that could never be used still stop checks across fields.
      const unseen: Issue[] = [];
      if (Array.isArray(input)) for (let i = 0; i < input.length; i++) item(input[i], [...at, i], unseen);
      issues.push({ path: at, message: bounds.lengthReason, kind: "value", abort: aborted(unseen, 0) });
    }
    if (!Array.isArray(input) || outOfBounds) return INVALID;
    const before = issues.length;
    const out: (T | Invalid)[] = [];
    // A loop, not map: a sparse array's holes are entries left out, which must be reported.
    for (let i = 0; i < input.length; i++) out.push(item(input[i], [...at, i], issues));
    if (aborted(issues, before)) return INVALID;
    refine?.(out, at, issues);
    return out.filter((entry): entry is T => entry !== INVALID);
  };
}

/**
 * An object of named entries: a rejected name is reported (as a name) instead of its entry.
 *
 * @example
 * const byName = record(leaf(v.string(), "is not a name"), leaf(v.number(), "is not a number"), "is not an object");
 */
export function record<T>(name: Rule<string>, entry: Rule<T>, reason: string): Rule<Record<string, T>> {
  return function checkRecord(input, at, issues) {
    if (!isObject(input) || Object.getPrototypeOf(input) !== Object.prototype) {
      issues.push({ path: at, message: reason, kind: "value", abort: true });
      return INVALID;
    }
    const before = issues.length;
    const out: [string, T][] = [];
    for (const key of Object.keys(input)) {
      // JSON.parse makes "__proto__" an own key; assigning it would set a prototype, not define an entry.
      if (key === "__proto__") continue;
      const nameIssues: Issue[] = [];
      name(key, [...at, key], nameIssues);
      if (nameIssues.length > 0) {
        for (const issue of nameIssues) issues.push({ ...issue, kind: "name", abort: true });
        continue;
      }
      const value = entry(input[key], [...at, key], issues);
      if (value !== INVALID) out.push([key, value]);
    }
    return aborted(issues, before) ? INVALID : Object.fromEntries(out);
  };
}

/**
 * An integer from `min` to `max`. Reported like zod's `int().min().max()`: a wrong type or a fraction once
 * (aborting), an integer beyond 2^53 once for that and once per bound it breaks.
 *
 * @example
 * integer(1, 10, "is not from 1 to 10")(11, ["n"], issues); // 11, with one issue
 */
export function integer(min: number, max: number, reason: string): Rule<number> {
  const number = v.number();
  return function checkInteger(input, at, issues) {
    const add = (abort: boolean) => issues.push({ path: at, message: reason, kind: "value", abort });
    if (!v.is(number, input) || !Number.isInteger(input)) {
      add(true);
      return INVALID;
    }
    if (!Number.isSafeInteger(input)) add(false);
    if (input < min) add(false);
    if (input > max) add(false);
    return input;
  };
}
