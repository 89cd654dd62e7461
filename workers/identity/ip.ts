/** @module IP address parsing for identities: strict IPv4, IPv6 normalised and reduced to its /64. */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/**
 * Whether `text` is a dotted-quad IPv4 address. Leading zeros are refused: some parsers read "010" as octal,
 * so such a spelling has no single meaning.
 *
 * @example
 * isIPv4("203.0.113.7"); // true
 * isIPv4("203.0.113.07"); // false
 */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

function ipv4Hextets(text: string): number[] | null {
  if (!isIPv4(text)) return null;
  const [a = 0, b = 0, c = 0, d = 0] = text.split(".").map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

function parseGroups(part: string): number[] | null {
  if (part === "") return [];
  const groups = part.split(":");
  const out: number[] = [];
  for (const [i, group] of groups.entries()) {
    // Only the last group may be an embedded IPv4 address ("::ffff:192.0.2.1", "64:ff9b::192.0.2.1").
    if (i === groups.length - 1 && group.includes(".")) {
      const pair = ipv4Hextets(group);
      if (!pair) return null;
      out.push(...pair);
    } else if (HEXTET.test(group)) {
      out.push(Number.parseInt(group, 16));
    } else {
      return null;
    }
  }
  return out;
}

/**
 * The eight 16-bit groups of an IPv6 address in any RFC 4291 spelling (`::` compression, upper or lower
 * case, leading zeros, embedded IPv4), or `null` when it isn't one. Zone ids (`%eth0`) are refused: they
 * never appear in a client address.
 *
 * @example
 * parseIPv6("2001:DB8::1"); // [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]
 */
export function parseIPv6(text: string): number[] | null {
  const lower = text.toLowerCase();
  const halves = lower.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (!head || !tail) return null;
  // An embedded IPv4 address is only allowed at the very end of the address.
  if (halves.length === 2 && (halves[0] ?? "").includes(".")) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  // "::" stands for at least one zero group.
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/**
 * RFC 5952 text for eight groups: lowercase, no leading zeros, the longest run (two or more) of zero
 * groups, the first if tied, written as `::`. One canonical spelling means one bucket per address.
 *
 * @example
 * formatIPv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]); // "2001:db8::1"
 */
export function formatIPv6(hextets: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < hextets.length; ) {
    if (hextets[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < hextets.length && hextets[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = hextets.map((h) => h.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * The identity of a client address: an IPv4 address as is, an IPv4-mapped IPv6 address as its IPv4 address,
 * any other IPv6 address as its /64 network (one subscriber usually holds a whole /64, so keying by the full
 * address would let a client rotate through 2^64 buckets). `null` when `text` is not an IP address.
 *
 * @example
 * clientNetwork("203.0.113.7"); // "203.0.113.7"
 * clientNetwork("2001:0DB8:0001:0002:aaaa::1"); // "2001:db8:1:2::/64"
 * clientNetwork("::ffff:203.0.113.7"); // "203.0.113.7"
 */
export function clientNetwork(text: string): string | null {
  if (isIPv4(text)) return text;
  const hextets = parseIPv6(text);
  if (!hextets) return null;
  const mapped = hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff;
  if (mapped) {
    const [hi = 0, lo = 0] = hextets.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return `${formatIPv6([...hextets.slice(0, 4), 0, 0, 0, 0])}/64`;
}
