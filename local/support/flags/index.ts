/** @module Command-line plumbing every entry shares: node:util parseArgs, --help, whole-number flags, errors naming the flag. */
import { readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { parsePolicies } from "../../../workers/policies";
import type { Result } from "../../../workers/result";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What an entry says about itself: its name (the prefix of its error lines), its --help text, its flags. */
export interface CliSpec<T extends Options> {
  name: string;
  help: string;
  options: T;
  /** Default: `process.argv.slice(2)`. */
  args?: string[];
}

/**
 * Prints `<name>: <message>` and the way to --help on stderr, then exits 2 (a usage error).
 *
 * @example
 * if (!port.ok) failUsage("npm start", port.error);
 */
export function failUsage(name: string, message: string): never {
  console.error(`${name}: ${message}\n\nRun with --help for the options.`);
  process.exit(2);
}

/**
 * Parses the flags strictly (unknown flags and positionals are errors). `--help`/`-h` prints the help and
 * exits 0; a parse error prints it, naming the flag, and exits 2.
 *
 * @example
 * const flags = readFlags({ name: "demo", help: HELP, options: { port: { type: "string" } } });
 * flags.port; // string | undefined
 */
export function readFlags<T extends Options>(spec: CliSpec<T>) {
  const config = {
    args: spec.args,
    options: { ...spec.options, help: { type: "boolean", short: "h" } } as T & {
      help: { type: "boolean"; short: "h" };
    },
    strict: true as const,
    allowPositionals: false as const,
  };
  let values: ReturnType<typeof parseArgs<typeof config>>["values"];
  try {
    ({ values } = parseArgs(config));
  } catch (error) {
    failUsage(spec.name, (error as Error).message);
  }
  // Inside this generic function TypeScript cannot resolve parseArgs' conditional value types.
  if ((values as { help?: boolean }).help) {
    console.log(spec.help);
    process.exit(0);
  }
  return values;
}

/**
 * A whole-number flag in `[min, max]`, `fallback` when absent; the error names the flag and the value.
 *
 * @example
 * wholeNumber("--port", "80a", { min: 0, max: 65535, fallback: 8080 });
 * // { ok: false, error: '--port: expected a whole number 0–65535, got "80a"' }
 */
export function wholeNumber(
  flag: string,
  value: string | undefined,
  range: { min: number; max: number; fallback: number },
): Result<number> {
  if (value === undefined) return { ok: true, value: range.fallback };
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    return { ok: false, error: `${flag}: expected a whole number ${range.min}–${range.max}, got "${value}"` };
  }
  return { ok: true, value: n };
}

/**
 * The value of a result, or exit 2 with its error: for entries, where a bad flag ends the program.
 *
 * @example
 * const port = orFail("npm start", wholeNumber("--port", flags.port, { min: 0, max: 65535, fallback: 8080 }));
 */
export function orFail<T>(name: string, result: Result<T>): T {
  if (!result.ok) failUsage(name, result.error);
  return result.value;
}

/**
 * The text of a `--policies <file>` flag, validated as a policies document; `undefined` when the flag is
 * absent. The error names the flag, the file and the field.
 *
 * @example
 * const policies = orFail("npm start", policiesFlag(flags.policies)); // JSON text or undefined
 */
export function policiesFlag(file: string | undefined): Result<string | undefined> {
  if (file === undefined) return { ok: true, value: undefined };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { ok: false, error: `--policies: cannot read ${file}: ${(error as Error).message}` };
  }
  const parsed = parsePolicies(text);
  return parsed.ok ? { ok: true, value: text } : { ok: false, error: `--policies ${file}: ${parsed.error}` };
}

/** Port flags: 0 asks for a free port. */
export const PORT_RANGE = { min: 0, max: 65535 } as const;
