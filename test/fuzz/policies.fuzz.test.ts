import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KEY_NAME_PATTERN } from "../../lua/keys";
import { DEFAULT_POLICIES, parsePolicies } from "../../workers/policies";
import { hostileString, params, report } from "./fuzz";

// The complete example of docs/configuration.md: every field the schema knows appears at least once.
const VALID = {
  prefix: "erl",
  policies: {
    default: { limits: [{ name: "burst", capacity: 10, refill: "5/s" }], onError: "open" },
    api: {
      limits: [
        { name: "second", capacity: 20, refill: "10/s" },
        { name: "day", capacity: 10000, refill: "10000/d" },
      ],
      onError: "closed",
      mode: "enforce",
      timeoutMs: 50,
    },
    login: {
      limits: [
        { name: "minute", capacity: 5, refill: "5/m" },
        { name: "hour", capacity: 20, refill: "20/h" },
      ],
      onError: "closed",
      timeoutMs: 100,
    },
    "search-trial": { limits: [{ name: "burst", capacity: 30, refill: "1/2s" }], mode: "shadow" },
  },
  routes: [
    { path: "/login", methods: ["POST"], policy: "login", key: "ip" },
    { path: "/api/*", methods: ["GET", "POST"], policy: "api", key: "header:x-api-key", cost: 1 },
    { path: "/api/*/export", policy: "api", key: "header:x-api-key", fallback: "ip", cost: 50 },
    { path: "/search/*", policy: "search-trial", key: "ip" },
    { path: "/*", policy: "default", key: "ip" },
  ],
  cors: { origins: ["https://app.example.com", "http://localhost:5173"] },
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path to a value inside `value` (the root included). */
function pathsOf(value: Json, at: Path = []): Path[] {
  const here: Path[] = [at];
  if (Array.isArray(value)) return here.concat(value.flatMap((v, i) => pathsOf(v, [...at, i])));
  if (value && typeof value === "object")
    return here.concat(Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...at, k])));
  return here;
}

const VALID_PATHS = pathsOf(VALID as unknown as Json);

// Values that sit near the rules: boundaries, wrong types, near-miss spellings.
const nearMiss = fc.constantFrom<Json>(
  0,
  -1,
  1,
  1.5,
  8,
  9,
  64,
  1e9,
  1e9 + 1,
  1e21,
  -0,
  Number.MAX_SAFE_INTEGER,
  "",
  " ",
  "ip",
  "IP",
  "header:",
  "header:x api",
  "header:x-api-key",
  "cookie:session",
  "open",
  "Open",
  "closed",
  "shadow",
  "enforce",
  "5/s",
  "0/s",
  "5/0s",
  "1.5/s",
  "5 / s",
  "5/w",
  "10/fortnight",
  "1000000000/d",
  "1/1ms",
  "/",
  "/*",
  "api/*",
  "/a b",
  "/a?b",
  "GET",
  "get",
  "*",
  "https://a.example",
  "HTTPS://A.EXAMPLE",
  "https://a.example/",
  "erl:v2",
  "a".repeat(64),
  "a".repeat(65),
  "__proto__",
  "constructor",
  [],
  {},
  [null],
  { limits: [] },
  { name: "x", capacity: 1, refill: "1/s" },
  { path: "/*", policy: "default", key: "ip" },
);

const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 3, arbitrary: nearMiss },
  { weight: 2, arbitrary: hostileString(20) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

type Mutation =
  | { op: "set"; path: Path; value: Json }
  | { op: "delete"; path: Path }
  | { op: "addField"; path: Path; key: string; value: Json }
  | { op: "duplicate"; path: Path };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), path: fc.constantFrom(...VALID_PATHS), value: anyJson }),
  fc.record({ op: fc.constant("delete" as const), path: fc.constantFrom(...VALID_PATHS) }),
  fc.record({
    op: fc.constant("addField" as const),
    path: fc.constantFrom(...VALID_PATHS),
    key: fc.oneof(hostileString(12), fc.constantFrom("onErorr", "methdos", "limit", "name", "__proto__")),
    value: anyJson,
  }),
  fc.record({ op: fc.constant("duplicate" as const), path: fc.constantFrom(...VALID_PATHS) }),
);

function containerAt(root: Json, path: Path): Json | undefined {
  let value: Json | undefined = root;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, Json>)[segment];
  }
  return value;
}

/** Applies mutations to a fresh copy of the valid document (a path that no longer exists is skipped). */
function mutate(mutations: Mutation[]): Json {
  let doc = structuredClone(VALID) as unknown as Json;
  for (const m of mutations) {
    if (m.path.length === 0) {
      if (m.op === "set") doc = m.value;
      continue;
    }
    const parent = containerAt(doc, m.path.slice(0, -1));
    const last = m.path[m.path.length - 1] as string | number;
    if (parent === null || typeof parent !== "object") continue;
    const record = parent as Record<string | number, Json>;
    if (!(last in record)) continue;
    if (m.op === "set") record[last] = m.value;
    else if (m.op === "delete") {
      if (Array.isArray(parent) && typeof last === "number") parent.splice(last, 1);
      else delete record[last];
    } else if (m.op === "duplicate" && Array.isArray(parent) && typeof last === "number") {
      parent.splice(last, 0, structuredClone(parent[last] as Json));
    } else if (m.op === "addField") {
      const target = record[last];
      if (target && typeof target === "object" && !Array.isArray(target)) {
        Object.defineProperty(target, m.key, {
          value: m.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
  }
  return doc;
}

// Every message starts with a field path as formatPath writes it (`policies.api.limits[1].refill`,
// `policies["v1 api"]`, `document` for the root) and a colon, or says the text isn't JSON.
const QUOTED = String.raw`\["(?:[^"\\]|\\.)*"\]`;
const SEGMENT = String.raw`(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|${QUOTED})`;
const FIRST = `(?:[A-Za-z_][A-Za-z0-9_-]*|${QUOTED})`;
const MESSAGE = new RegExp(`^(?:policies document is not valid JSON: .+|${FIRST}${SEGMENT}*: .+)$`, "s");

/** What `parsePolicies` must give for `input`: ok with a consistent compiled document, or a named error. */
function checkOutcome(input: unknown): ReturnType<typeof parsePolicies> {
  let result: ReturnType<typeof parsePolicies>;
  try {
    result = parsePolicies(input);
  } catch (error) {
    throw new Error(
      `parsePolicies threw ${(error as Error).stack} for ${JSON.stringify(input)?.slice(0, 300)}`,
    );
  }
  if (!result.ok) {
    expect(typeof result.error).toBe("string");
    expect(result.error).toMatch(MESSAGE);
    return result;
  }
  const compiled = result.value;
  expect(compiled.prefix).toMatch(KEY_NAME_PATTERN);
  expect(compiled.policies.size).toBeGreaterThan(0);
  for (const [name, policy] of compiled.policies) {
    expect(name).toMatch(KEY_NAME_PATTERN);
    expect(policy.limits.length).toBeGreaterThanOrEqual(1);
    expect(policy.limits.length).toBeLessThanOrEqual(8);
    for (const limit of policy.limits) expect(limit.name).toMatch(KEY_NAME_PATTERN);
    expect(new Set(policy.limits.map((l) => l.name)).size).toBe(policy.limits.length);
  }
  for (const route of compiled.routes) expect(compiled.policies.get(route.policy.name)).toBe(route.policy);
  return result;
}

describe("fuzz: policies document (parsePolicies)", () => {
  it("the unmutated documents parse", () => {
    expect(parsePolicies(VALID).ok).toBe(true);
    expect(parsePolicies(DEFAULT_POLICIES).ok).toBe(true);
  });

  const RUNS_JSON = 5000;
  it(`arbitrary JSON values and texts: never throws, ok or a message naming a field (${RUNS_JSON} × 2 inputs)`, () => {
    let count = 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        count++;
        checkOutcome(value);
        checkOutcome(JSON.stringify(value));
      }),
      params(RUNS_JSON),
    );
    report("policies / arbitrary JSON (value + text)", count * 2);
  });

  const RUNS_TEXT = 2000;
  it(`arbitrary and broken texts: never throws (${RUNS_TEXT} inputs)`, () => {
    let count = 0;
    const text = fc.oneof(
      hostileString(200),
      // Valid text cut or spliced at a random point.
      fc.tuple(fc.nat(), fc.nat(), hostileString(5)).map(([a, b, insert]) => {
        const json = JSON.stringify(VALID);
        const i = a % json.length;
        return json.slice(0, i) + insert + json.slice(i + (b % 4));
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        count++;
        checkOutcome(t);
      }),
      params(RUNS_TEXT),
    );
    report("policies / broken texts", count);
  });

  const RUNS_MUTATED = 6000;
  it(`mutated valid documents: never throws; value and text agree (${RUNS_MUTATED} inputs)`, () => {
    let count = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        count++;
        const doc = mutate(mutations);
        const asValue = checkOutcome(doc);
        // A string is read as JSON text, so only non-string documents have a text twin.
        if (typeof doc === "string") return;
        if (asValue.ok) accepted++;
        const asText = parsePolicies(JSON.stringify(doc));
        expect(asText.ok).toBe(asValue.ok);
        if (!asValue.ok && !asText.ok) expect(asText.error).toBe(asValue.error);
      }),
      params(RUNS_MUTATED),
    );
    report("policies / mutated valid documents", count, `${accepted} still valid`);
    // Both outcomes are exercised: the mutations are neither all harmless nor all fatal.
    expect(accepted).toBeGreaterThan(count / 20);
    expect(accepted).toBeLessThan(count);
  });

  it("a single wrong field names its exact path", () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_PATHS.filter((p) => p.length >= 3)), (path) => {
        // A boolean is valid nowhere in the document below the top level.
        const doc = mutate([{ op: "set", path, value: true }]);
        const result = parsePolicies(doc);
        expect(result.ok).toBe(false);
        if (result.ok) return;
        const shown = path
          .map((s, i) =>
            typeof s === "number"
              ? `[${s}]`
              : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)
                ? `${i ? "." : ""}${s}`
                : `["${s}"]`,
          )
          .join("");
        expect(result.error).toContain(shown);
      }),
      params(VALID_PATHS.length * 3),
    );
  });
});
