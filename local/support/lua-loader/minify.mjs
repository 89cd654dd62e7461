/** @module Lua as shipped: the script's text without comments, indentation or blank lines, same meaning. */

/**
 * Strips `--` line comments (outside string literals), each line's surrounding whitespace, blank lines
 * and spaces that separate nothing (next to punctuation). Line breaks stay, so statements keep their separators and Redis' error lines stay readable.
 * A `#!lua` first line (script flags) is kept as it is. Block comments and long strings (`[[`) are
 * refused rather than guessed at: the token-bucket script has none.
 *
 * @param {string} source Lua source text
 * @returns {string} the same script, smaller
 * @example
 * minifyLua("-- doc\nlocal x = 1 -- why\n\n  return x\n"); // "local x=1\nreturn x"
 */
export function minifyLua(source) {
  const lines = source.split("\n");
  const out = [];
  lines.forEach(function minifyLine(line, index) {
    if (index === 0 && line.startsWith("#!")) {
      out.push(line.trimEnd());
      return;
    }
    if (line.includes("[["))
      throw new Error(`minifyLua: long brackets on line ${index + 1} are not supported`);
    const code = tight(withoutComment(line, index + 1).trim());
    if (code !== "") out.push(code);
  });
  return out.join("\n");
}

// A space next to one of these can go; never next to `-` or `.` (`a - -b`, `1 .. x`) or brackets (`[ [`).
const PUNCTUATION = new Set("=+*/%^#,;(){}<>~");

/** The line with spaces outside strings squeezed: one where two words meet, none next to punctuation. */
function tight(line) {
  let out = "";
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      out += c;
      if (c === "\\") out += line[++i] ?? "";
      else if (c === quote) quote = "";
      continue;
    }
    if (c === " " || c === "\t") {
      while (line[i + 1] === " " || line[i + 1] === "\t") i++;
      const next = line[i + 1] ?? "";
      if (!PUNCTUATION.has(out.at(-1) ?? "") && !PUNCTUATION.has(next)) out += " ";
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    out += c;
  }
  return out;
}

/** The line up to its `--` comment, if any, skipping quoted strings (with their escapes). */
function withoutComment(line, lineNumber) {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "-" && line[i + 1] === "-") return line.slice(0, i);
  }
  if (quote) throw new Error(`minifyLua: unterminated string on line ${lineNumber}`);
  return line;
}
