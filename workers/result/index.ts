/** @module The one result type for work that can fail at an edge: a value, or an error message naming the field. */

/**
 * A value, or why there is none. Errors are values at the edges (input, config, the machine), so callers
 * decide how to report them; exceptions stay for bugs.
 *
 * @example
 * function port(text: string): Result<number> {
 *   const n = Number(text);
 *   return Number.isInteger(n) ? { ok: true, value: n } : { ok: false, error: `--port: not a number: "${text}"` };
 * }
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };
