/** @module Refill rates: `"<tokens>/<period>"` text such as `"5/s"` or `"100/10m"`, parsed to tokens per interval. */
import type { Result } from "../result";

/** The outcome of a parse that can fail with a message meant for the person who wrote the input. */

/** A refill rate: `tokens` are added, continuously, over every `intervalMs` milliseconds. */
export interface RefillRate {
  tokens: number;
  intervalMs: number;
}

/** Largest token count per period; matches the largest capacity a limit may have. */
export const MAX_REFILL_TOKENS = 1_000_000_000;

/** Milliseconds per period unit. */
export const PERIOD_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Why a text is not a refill rate, phrased to follow the offending value in an error message. */
export const REFILL_SYNTAX =
  'is not a refill rate (expected "<tokens>/<period>", period ms|s|m|h|d, e.g. "5/s" or "100/10m")';

// `ms` must come before `m` in the alternation, or "500ms" would read as 500 minutes followed by junk.
const REFILL = /^(\d+)\/(\d*)(ms|s|m|h|d)$/;

/**
 * Why `text` is not a valid refill rate, or the rate itself. Shared by {@link parseRefill} and the schema,
 * which prefixes the reason with the field path and value.
 *
 * @example
 * checkRefill("5/10s"); // { rate: { tokens: 5, intervalMs: 10000 } }
 * checkRefill("0/s");   // { reason: "has 0 tokens per period (expected 1 to 1000000000)" }
 */
export function checkRefill(text: string): { rate: RefillRate } | { reason: string } {
  const match = REFILL.exec(text);
  if (!match) return { reason: REFILL_SYNTAX };
  const [, tokenDigits = "", countDigits = "", unit = "s"] = match;
  const tokens = Number(tokenDigits);
  if (tokens < 1 || tokens > MAX_REFILL_TOKENS) {
    const shown = tokenDigits.length > 12 ? "too many" : String(tokens);
    return { reason: `has ${shown} tokens per period (expected 1 to ${MAX_REFILL_TOKENS})` };
  }
  // An absent count means one unit: "5/s" is "5/1s".
  const count = countDigits === "" ? 1 : Number(countDigits);
  if (count < 1) return { reason: "has a zero-length period (the count before the unit must be at least 1)" };
  const intervalMs = count * PERIOD_MS[unit as keyof typeof PERIOD_MS];
  if (!Number.isSafeInteger(intervalMs)) {
    return { reason: `has a period too long to count in milliseconds (max ${Number.MAX_SAFE_INTEGER} ms)` };
  }
  return { rate: { tokens, intervalMs } };
}

/**
 * Parses a refill rate: `"<tokens>/<period>"`, where the period is an optional positive integer count and a
 * unit `ms`, `s`, `m`, `h` or `d`.
 *
 * @example
 * parseRefill("5/s");     // { ok: true, value: { tokens: 5, intervalMs: 1000 } }
 * parseRefill("100/10m"); // { ok: true, value: { tokens: 100, intervalMs: 600000 } }
 * parseRefill("5/week");  // { ok: false, error: '"5/week" is not a refill rate (expected …)' }
 */
export function parseRefill(text: string): Result<RefillRate> {
  const checked = checkRefill(text);
  if ("reason" in checked) return { ok: false, error: `${JSON.stringify(text)} ${checked.reason}` };
  return { ok: true, value: checked.rate };
}
