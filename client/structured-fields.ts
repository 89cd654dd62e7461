/** @module A lenient RFC 8941 List and Dictionary parser: enough Structured Fields for the RateLimit headers, never throws. */

/** A bare item's value: what the RateLimit drafts can put in an item or a parameter. */
export type BareItem =
  | { type: "integer"; value: number }
  | { type: "decimal"; value: number }
  | { type: "string"; value: string }
  | { type: "token"; value: string }
  | { type: "boolean"; value: boolean }
  | { type: "bytes"; value: string };

/** One list member: a bare item and its parameters (a later duplicate key wins, as RFC 8941 says). */
export interface ListItem {
  value: BareItem;
  params: Map<string, BareItem>;
}

const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[A-Za-z0-9!#$%&'*+\-.^_`|~:/]/;
const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Cursor over one field value; `fail()` marks the current member malformed. */
class Cursor {
  pos = 0;
  constructor(readonly text: string) {}
  peek(): string {
    return this.text[this.pos] ?? "";
  }
  done(): boolean {
    return this.pos >= this.text.length;
  }
  skip(chars: RegExp): void {
    while (!this.done() && chars.test(this.peek())) this.pos++;
  }
}

class Malformed extends Error {}

function fail(): never {
  throw new Malformed();
}

function parseNumber(c: Cursor): BareItem {
  const match = /^-?(\d+)(\.(\d+))?/.exec(c.text.slice(c.pos));
  if (!match) fail();
  const [whole, intDigits = "", fraction, fracDigits = ""] = match;
  // RFC 8941's ranges: beyond them a value is malformed, which is how "huge" numbers get ignored.
  if (fraction === undefined ? intDigits.length > 15 : intDigits.length > 12 || fracDigits.length > 3) fail();
  c.pos += whole.length;
  const value = Number(whole);
  return fraction === undefined ? { type: "integer", value } : { type: "decimal", value };
}

function parseString(c: Cursor): BareItem {
  c.pos++;
  let out = "";
  while (!c.done()) {
    const ch = c.peek();
    c.pos++;
    if (ch === "\\") {
      const next = c.peek();
      if (next !== '"' && next !== "\\") fail();
      out += next;
      c.pos++;
    } else if (ch === '"') {
      return { type: "string", value: out };
    } else {
      const code = ch.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) fail();
      out += ch;
    }
  }
  return fail();
}

function parseBareItem(c: Cursor): BareItem {
  const ch = c.peek();
  if (ch === "-" || (ch >= "0" && ch <= "9")) return parseNumber(c);
  if (ch === '"') return parseString(c);
  if (ch === "?") {
    const flag = c.text[c.pos + 1];
    if (flag !== "0" && flag !== "1") fail();
    c.pos += 2;
    return { type: "boolean", value: flag === "1" };
  }
  if (ch === ":") {
    const end = c.text.indexOf(":", c.pos + 1);
    if (end < 0) fail();
    const value = c.text.slice(c.pos + 1, end);
    if (!BASE64.test(value)) fail();
    c.pos = end + 1;
    return { type: "bytes", value };
  }
  if (TOKEN_START.test(ch)) {
    const start = c.pos;
    c.pos++;
    c.skip(TOKEN_CHAR);
    return { type: "token", value: c.text.slice(start, c.pos) };
  }
  return fail();
}

function parseParams(c: Cursor): Map<string, BareItem> {
  const params = new Map<string, BareItem>();
  while (c.peek() === ";") {
    c.pos++;
    c.skip(/ /);
    if (!KEY_START.test(c.peek())) fail();
    const start = c.pos;
    c.skip(KEY_CHAR);
    const key = c.text.slice(start, c.pos);
    let value: BareItem = { type: "boolean", value: true };
    if (c.peek() === "=") {
      c.pos++;
      value = parseBareItem(c);
    }
    params.set(key, value);
  }
  return params;
}

/** Moves past the rest of a malformed member, honouring quotes so a comma inside a string isn't a boundary. */
function skipMember(c: Cursor): void {
  let quoted = false;
  while (!c.done()) {
    const ch = c.peek();
    if (quoted && ch === "\\") c.pos++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) return;
    c.pos++;
  }
}

/**
 * Parses a Structured Fields List. Unlike RFC 8941, which rejects the whole field, a malformed member is
 * dropped and the others kept: the later RateLimit drafts ask recipients to ignore just the bad item, and
 * a client that pacing depends on should use whatever is still usable. Inner lists count as malformed.
 *
 * @example
 * parseList('"burst";q=10;w=2, "day";q=1000;w=86400')[1]?.params.get("q"); // { type: "integer", value: 1000 }
 */
export function parseList(text: string | null | undefined): ListItem[] {
  const items: ListItem[] = [];
  eachMember(text, function listMember(c) {
    const value = parseBareItem(c);
    const params = parseParams(c);
    return () => items.push({ value, params });
  });
  return items;
}

/**
 * Walks the comma-separated members of `text`: `parse` reads one member and returns how to keep it, which
 * runs only when the member ends cleanly. A malformed member is skipped, and the walk goes on.
 */
function eachMember(text: string | null | undefined, parse: (c: Cursor) => () => void): void {
  if (!text) return;
  const c = new Cursor(text);
  c.skip(/[ \t]/);
  while (!c.done()) {
    const start = c.pos;
    try {
      const keep = parse(c);
      c.skip(/[ \t]/);
      if (!c.done() && c.peek() !== ",") fail();
      keep();
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      c.pos = start;
      skipMember(c);
    }
    if (c.peek() === ",") c.pos++;
    c.skip(/[ \t]/);
  }
}

/**
 * Parses a Structured Fields Dictionary (draft -07's `RateLimit: limit=10, remaining=9, reset=2`). As with
 * {@link parseList}, a malformed member is dropped and the others kept; a key without a value is `true`,
 * and a later duplicate key wins. Inner lists count as malformed.
 *
 * @example
 * parseDictionary("limit=10, remaining=9, reset=2").get("remaining")?.value; // { type: "integer", value: 9 }
 */
export function parseDictionary(text: string | null | undefined): Map<string, ListItem> {
  const members = new Map<string, ListItem>();
  eachMember(text, function dictionaryMember(c) {
    if (!KEY_START.test(c.peek())) fail();
    const keyStart = c.pos;
    c.skip(KEY_CHAR);
    const key = c.text.slice(keyStart, c.pos);
    let value: BareItem = { type: "boolean", value: true };
    if (c.peek() === "=") {
      c.pos++;
      value = parseBareItem(c);
    }
    const params = parseParams(c);
    return () => members.set(key, { value, params });
  });
  return members;
}
