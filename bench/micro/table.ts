/** @module Scenario 13's figures as a Markdown table (the report and `npm run bench:micro` print the same). */
import type { MicroResult } from "./index";

/**
 * The figures as a Markdown table (also used by the report).
 *
 * @example
 * console.log(microTable(result).join("\n"));
 */
export function microTable(result: MicroResult): string[] {
  const lines = ["| configuration | µs / request | minus (a) | decisions by source |", "|---|---:|---:|---|"];
  for (const row of result.rows) {
    const sources = Object.entries(row.sources)
      .map(([source, count]) => `${source} ${count}`)
      .join(", ");
    const minus = row.name === "bare" ? "—" : row.minusBareUs.toFixed(1);
    lines.push(`| ${row.label} | ${row.usPerRequest.toFixed(1)} | ${minus} | ${sources || "—"} |`);
  }
  return lines;
}
