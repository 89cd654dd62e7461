import { isIP } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketKeys } from "../../lua/keys";
import { identify } from "../../workers/identity";
import type { KeySource } from "../../workers/policies";
import { type EdgeStack, startEdgeStack } from "../helpers/edge-stack";
import { inBatches, keyProblems, limitNames, namespaceViolations, params, report } from "./fuzz";

const PREFIX = "idz";
const POLICIES = {
  prefix: PREFIX,
  policies: {
    single: { limits: [{ name: "burst", capacity: 5, refill: "1/m" }] },
    multi: {
      limits: [
        { name: "second", capacity: 4, refill: "2/s" },
        { name: "day", capacity: 1000, refill: "1000/d" },
      ],
    },
  },
  routes: [
    { path: "/ip/*", policy: "single", key: "ip" },
    { path: "/keyed/*", policy: "multi", key: "header:x-api-key", fallback: "ip" },
    { path: "/strict/*", policy: "single", key: "header:X-Api-Key" },
    { path: "/either/*", policy: "multi", key: "header:x-api-key", fallback: "header:x-client-id" },
  ],
};
const LIMITS = limitNames(POLICIES);

// --- Generators: what can arrive in an HTTP header value ------------------------------------------------

/** Header-value characters HTTP and fetch allow: HTAB, visible ASCII, space and obs-text (0x80–0xFF). */
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constant("\t") },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.constantFrom("{", "}", ":", "%", ".", "~", "[", "]") },
);
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });
const asciiText = (minLength: number, maxLength: number) =>
  fc.string({ unit: "binary-ascii", minLength, maxLength }).map((s) => s.replace(/[^\x21-\x7e]/g, "k"));

const octet = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 255 }) },
  fc.constantFrom(0, 1, 255),
);
const ipv4 = fc.tuple(octet, octet, octet, octet);
const hextet = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  { weight: 1, arbitrary: fc.constant(0xffff) },
);
const ipv6 = fc.array(hextet, { minLength: 8, maxLength: 8 });

/** The address's /64 (or its IPv4 address when IPv4-mapped), computed independently via WHATWG URL. */
function expectedNetwork(h: number[]): string {
  if (h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) {
    const [hi = 0, lo = 0] = h.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  const net = [...h.slice(0, 4), 0, 0, 0, 0].map((x) => x.toString(16)).join(":");
  return `${new URL(`http://[${net}]/`).hostname.slice(1, -1)}/64`;
}

type Spelling = "full" | "padded" | "upper" | "canonical" | "anyRun" | "embedded";

function spell(h: number[], how: Spelling, runAt: number): string {
  const hex = h.map((x) => x.toString(16));
  switch (how) {
    case "full":
      return hex.join(":");
    case "padded":
      return hex.map((x) => x.padStart(4, "0")).join(":");
    case "upper":
      return new URL(`http://[${hex.join(":")}]/`).hostname.slice(1, -1).toUpperCase();
    case "canonical":
      return new URL(`http://[${hex.join(":")}]/`).hostname.slice(1, -1);
    case "anyRun": {
      // Compress any run of zero groups (not necessarily the longest): still a valid spelling.
      const zeros = h.map((x, i) => (x === 0 ? i : -1)).filter((i) => i >= 0);
      const start = zeros.length ? (zeros[runAt % zeros.length] as number) : -1;
      if (start < 0) return hex.join(":");
      let end = start;
      while (end + 1 < 8 && h[end + 1] === 0) end++;
      return `${hex.slice(0, start).join(":")}::${hex.slice(end + 1).join(":")}`;
    }
    case "embedded": {
      const [hi = 0, lo = 0] = h.slice(6);
      return `${hex.slice(0, 6).join(":")}:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
    }
  }
}

interface IpCase {
  value: string;
  /** The network the value must key to, when the generator knows it is valid. */
  network: string | null;
}

const validIpv4: fc.Arbitrary<IpCase> = ipv4.map((o) => ({ value: o.join("."), network: o.join(".") }));
const validIpv6: fc.Arbitrary<IpCase> = fc
  .tuple(
    ipv6,
    fc.constantFrom<Spelling>("full", "padded", "upper", "canonical", "anyRun", "embedded"),
    fc.nat(),
  )
  .map(([h, how, at]) => ({ value: spell(h, how, at), network: expectedNetwork(h) }));
const mappedIpv4: fc.Arbitrary<IpCase> = fc
  .tuple(ipv4, fc.constantFrom("::ffff:", "::FFFF:", "0:0:0:0:0:ffff:"))
  .map(([o, p]) => ({ value: `${p}${o.join(".")}`, network: o.join(".") }));

/** Near misses: each is invalid (or of unknown validity: `network: null`). */
const brokenIp: fc.Arbitrary<IpCase> = fc.oneof(
  ipv4.map((o) => ({ value: `${o.slice(0, 3).join(".")}.0${o[3]}`, network: null })),
  ipv4.map((o) => ({ value: o.slice(0, 3).join("."), network: null })),
  ipv4.map((o) => ({ value: `${o.join(".")}.1`, network: null })),
  ipv4.map((o) => ({ value: `${o.join(".")}.`, network: null })),
  ipv4.map((o) => ({ value: `${o[0]}.${o[1]}.${o[2]}.${256 + (o[3] ?? 0)}`, network: null })),
  ipv4.map((o) => ({ value: `${o.join(".")}:8080`, network: null })),
  ipv6.map((h) => ({ value: `${spell(h, "canonical", 0)}%eth0`, network: null })),
  ipv6.map((h) => ({ value: `[${spell(h, "canonical", 0)}]`, network: null })),
  ipv6.map((h) => ({ value: `${spell(h, "full", 0)}:1`, network: null })),
  ipv6.map((h) => ({ value: spell(h, "full", 0).replace(":", ":::"), network: null })),
  ipv6.map((h) => ({ value: `${spell(h, "padded", 0)}0`, network: null })),
  ipv6.map((h) => ({ value: `::${spell(h, "full", 0)}`, network: null })),
  fc
    .constantFrom(
      "",
      " ",
      "\t",
      "unknown",
      "localhost",
      "1.2.3.4, 5.6.7.8",
      "::",
      "::1",
      ":::",
      "1::2::3",
      "ff:ff:ff",
    )
    .map((value) => ({ value, network: null })),
  headerText(60).map((value) => ({ value, network: null })),
  asciiText(1000, 5000).map((value) => ({ value, network: null })),
);

const ipValue: fc.Arbitrary<IpCase> = fc.oneof(validIpv4, validIpv6, mappedIpv4, brokenIp);

/** An API-key header value: absent, empty, blank, short, hostile, near or over the 1024-byte limit. */
const keyValue: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", " ", "\t", " \t ", "\u00a0", "{}", "a}b{c", "~abc", "ip:1.2.3.4"),
  },
  { weight: 6, arbitrary: headerText(80) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(127, 128, 129, 1022, 1023, 1024, 1025, 1026, 4096),
        fc.constantFrom("a", "{", "~", "é"),
      )
      .map(([n, ch]) => ch.repeat(ch === "é" ? Math.floor(n / 2) : n)),
  },
);

const source = fc.constantFrom<KeySource>({ kind: "ip" }, { kind: "header", name: "x-api-key" });
const fallback = fc.constantFrom<KeySource | null>(
  null,
  { kind: "ip" },
  { kind: "header", name: "x-api-key" },
  { kind: "header", name: "x-client-id" },
);

interface Headers3 {
  ip: IpCase | null;
  apiKey: string | null;
  clientId: string | null;
}

const headersArb: fc.Arbitrary<Headers3> = fc.record({
  ip: fc.option(ipValue, { freq: 6 }),
  apiKey: keyValue,
  clientId: keyValue,
});

function toHeaders(h: Headers3): Record<string, string> {
  const out: Record<string, string> = {};
  if (h.ip) out["CF-Connecting-IP"] = h.ip.value;
  if (h.apiKey !== null) out["X-Api-Key"] = h.apiKey;
  if (h.clientId !== null) out["X-Client-Id"] = h.clientId;
  return out;
}

// --- The oracle -------------------------------------------------------------------------------------------

type Expect = { ok: true; identity: string } | { ok: false; final: boolean } | { ok: "unknown-ip" };

const HTTP_WS = /^[\t ]+|[\t ]+$/g;

/** What one source must yield, computed from the spec in docs/configuration.md rather than the code. */
function expectFrom(h: Headers3, s: KeySource): Expect {
  if (s.kind === "ip") {
    if (!h.ip) return { ok: false, final: false };
    const trimmed = h.ip.value.replace(HTTP_WS, "").trim();
    if (h.ip.network !== null) return { ok: true, identity: `ip:${h.ip.network}` };
    // Only what Node also calls an address can be one; the rest of the near misses are never addresses.
    if (trimmed === "::" || trimmed === "::1") return { ok: true, identity: `ip:::/64` };
    return isIP(trimmed) === 0 || trimmed.includes("%") ? { ok: false, final: false } : { ok: "unknown-ip" };
  }
  const raw = s.name === "x-api-key" ? h.apiKey : h.clientId;
  const value = raw?.replace(HTTP_WS, "").trim();
  if (!value) return { ok: false, final: false };
  // Header strings hold one byte per character (latin1); the limit counts the UTF-8 bytes of that string.
  if (Buffer.byteLength(value, "utf8") > 1024) return { ok: false, final: true };
  return { ok: true, identity: `key:${value}` };
}

/**
 * The request as the worker sees it: Node sends header strings as latin1 bytes, and workerd decodes header
 * bytes as UTF-8, each invalid byte becoming U+FFFD (checked by hand: "é" arrives as "\ufffd").
 */
function asWorkerdSeesIt(headers: Record<string, string>): Request {
  const seen = new Map(
    Object.entries(headers).map(([k, v]) => [
      k.toLowerCase(),
      Buffer.from(v, "latin1").toString("utf8").replace(HTTP_WS, ""),
    ]),
  );
  return { headers: { get: (name: string) => seen.get(name.toLowerCase()) ?? null } } as unknown as Request;
}

const IDENTITY = /^(?:ip:(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]+\/64)|key:[\s\S]+)$/;

describe("fuzz: identity headers", () => {
  const RUNS = 12_000;
  it(`identify() on random CF-Connecting-IP and key headers matches the spec (${RUNS} inputs)`, async () => {
    let count = 0;
    const outcomes = { ip: 0, key: 0, error: 0 };
    const tags: string[] = [];
    fc.assert(
      fc.property(headersArb, source, fallback, (h, s, f) => {
        count++;
        const request = new Request("http://edge.test/x", { headers: toHeaders(h) });
        const got = identify(request, s, f);
        const first = expectFrom(h, s);
        const expected: Expect = first.ok === false && !first.final && f !== null ? expectFrom(h, f) : first;
        if (got.ok) {
          outcomes[got.identity.startsWith("ip:") ? "ip" : "key"]++;
          expect(got.identity).toMatch(IDENTITY);
          if (expected.ok === true) expect(got.identity).toBe(expected.identity);
          else expect(expected.ok, `expected an error, got ${got.identity}`).toBe("unknown-ip");
          if (got.identity.startsWith("ip:")) {
            const ip = got.identity.slice(3).replace(/\/64$/, "");
            expect(isIP(ip), ip).not.toBe(0);
          }
          tags.push(got.identity);
        } else {
          outcomes.error++;
          expect(expected.ok, `expected ${JSON.stringify(expected)}, got error ${got.error}`).not.toBe(true);
          expect(got.error.length).toBeGreaterThan(0);
          // The message names the header the client must fix.
          const named = s.kind === "ip" ? "CF-Connecting-IP" : s.name;
          expect(got.error).toContain(named);
          if (f && !(first.ok === false && first.final)) expect(got.error).toContain("fallback");
          expect(got.error.length).toBeLessThan(600);
        }
      }),
      params(RUNS),
    );
    // Every identity becomes keys inside the namespace and the hash tag, one slot per request.
    for (const identity of tags) {
      for (const key of await bucketKeys(PREFIX, identity, "multi", ["second", "day"]))
        expect(keyProblems(key, PREFIX, LIMITS)).toEqual([]);
    }
    report("identity / identify()", count, `outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.ip).toBeGreaterThan(RUNS / 10);
    expect(outcomes.key).toBeGreaterThan(RUNS / 10);
    expect(outcomes.error).toBeGreaterThan(RUNS / 10);
  });

  describe("through the real worker", () => {
    let stack: EdgeStack;
    beforeAll(async () => {
      stack = await startEdgeStack({ policies: POLICIES });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    const ROUTES: { path: string; source: KeySource; fallback: KeySource | null }[] = [
      { path: "/ip/x", source: { kind: "ip" }, fallback: null },
      { path: "/keyed/x", source: { kind: "header", name: "x-api-key" }, fallback: { kind: "ip" } },
      { path: "/strict/x", source: { kind: "header", name: "x-api-key" }, fallback: null },
      {
        path: "/either/x",
        source: { kind: "header", name: "x-api-key" },
        fallback: { kind: "header", name: "x-client-id" },
      },
    ];
    const BATCH = 50;
    const RUNS_HTTP = 60;

    it(`random identity headers: a decision or a 400 naming the header, keys in the namespace (${RUNS_HTTP * BATCH} inputs)`, async () => {
      let count = 0;
      const statuses = new Map<number, number>();
      const expectedKeys = new Set<string>();
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(headersArb, fc.nat(ROUTES.length - 1)), { minLength: BATCH, maxLength: BATCH }),
          async (cases) => {
            const answers = await inBatches(cases, BATCH, async ([h, r]) => {
              const route = ROUTES[r] as (typeof ROUTES)[number];
              const res = await fetch(`${stack.url}${route.path}`, {
                headers: toHeaders(h),
                signal: AbortSignal.timeout(15_000),
              });
              return {
                route,
                h,
                status: res.status,
                type: res.headers.get("Content-Type"),
                text: await res.text(),
              };
            });
            for (const a of answers) {
              count++;
              statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
              const predicted = identify(asWorkerdSeesIt(toHeaders(a.h)), a.route.source, a.route.fallback);
              const where = `${a.route.path} with ${JSON.stringify(toHeaders(a.h)).slice(0, 300)}`;
              if (predicted.ok) {
                if (a.status !== 200 && a.status !== 429)
                  throw new Error(`${where}: expected a decision, got ${a.status} ${a.text.slice(0, 300)}`);
                const policy = a.route.path === "/ip/x" || a.route.path === "/strict/x" ? "single" : "multi";
                for (const k of await bucketKeys(
                  PREFIX,
                  predicted.identity,
                  policy,
                  LIMITS.get(policy) ?? [],
                ))
                  expectedKeys.add(k);
              } else {
                if (a.status !== 400)
                  throw new Error(`${where}: expected 400, got ${a.status} ${a.text.slice(0, 300)}`);
                expect(a.type, where).toBe("application/problem+json");
                expect(JSON.parse(a.text).detail, where).toBe(predicted.error);
              }
            }
          },
        ),
        params(RUNS_HTTP, { endOnFailure: true }),
      );
      report(
        "identity / through the worker",
        count,
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
      );
      expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
      const { keys, violations } = await namespaceViolations(stack.raw, PREFIX, LIMITS);
      expect(violations).toEqual([]);
      expect(keys.filter((k) => !expectedKeys.has(k))).toEqual([]);
      expect(keys.length).toBeGreaterThan(100);
    }, 120_000);
  });
});
