/** @module Markdown pieces every section of docs/benchmarks.md is written with: numbers and tables. */

/**
 * A number with `digits` decimals, or "n/a" when the run could not measure it.
 *
 * @example
 * fmt(3.14159); // "3.14"
 */
export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

/**
 * A whole number with thousands separators, or "n/a".
 *
 * @example
 * int(12345.6); // "12,346"
 */
export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");

/**
 * A Markdown table.
 *
 * @example
 * table(["a", "b"], [[1, 2]]); // "| a | b |\n| --- | --- |\n| 1 | 2 |"
 */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
