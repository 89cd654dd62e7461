/** @module The script's shebang flags, and the script as stock Redis 7.0 takes it (without Upstash's flag). */

/** Upstash's flag: lock only the keys in KEYS. Stock Redis 7.0 refuses a script that names it. */
export const KEY_LOCKING_FLAG = "allow-key-locking";

/**
 * The flags of a script's `#!lua flags=…` first line; empty when it has no shebang or no flags.
 *
 * @example
 * shebangFlags("#!lua flags=allow-key-locking,no-writes\nreturn 1"); // ["allow-key-locking", "no-writes"]
 * shebangFlags("return 1"); // []
 */
export function shebangFlags(script: string): string[] {
  if (!script.startsWith("#!")) return [];
  const end = script.indexOf("\n");
  const line = end === -1 ? script : script.slice(0, end);
  const flags: string[] = [];
  for (const option of line.split(" ")) {
    if (option.startsWith("flags=")) flags.push(...option.slice("flags=".length).split(",").filter(Boolean));
  }
  return flags;
}

/**
 * The script without Upstash's `allow-key-locking` flag, for a stock Redis reached directly (ioredis in
 * tests and benchmarks; the REST proxy strips it for everything else). The shebang stays, so Redis 7
 * keeps treating it as a flagged script, and the line count does not change.
 *
 * @example
 * forStockRedis("#!lua flags=allow-key-locking\nreturn 1"); // "#!lua\nreturn 1"
 */
export function forStockRedis(script: string): string {
  const flags = shebangFlags(script);
  if (!flags.includes(KEY_LOCKING_FLAG)) return script;
  const end = script.indexOf("\n");
  const kept = flags.filter((flag) => flag !== KEY_LOCKING_FLAG);
  const line = kept.length > 0 ? `#!lua flags=${kept.join(",")}` : "#!lua";
  return end === -1 ? line : line + script.slice(end);
}
