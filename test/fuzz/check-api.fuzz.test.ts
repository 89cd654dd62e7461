import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketKeys } from "../../lua/keys";
import { type EdgeStack, startEdgeStack } from "../helpers/edge-stack";
import {
  hostileString,
  inBatches,
  limitNames,
  longString,
  namespaceViolations,
  params,
  report,
} from "./fuzz";

const TOKEN = "fuzz-check-token-0123456789";
const PREFIX = "fz";
const POLICIES = {
  prefix: PREFIX,
  policies: {
    single: { limits: [{ name: "burst", capacity: 5, refill: "1/m" }] },
    multi: {
      limits: [
        { name: "second", capacity: 4, refill: "2/s" },
        { name: "hour", capacity: 3, refill: "3/h" },
        { name: "day", capacity: 1000, refill: "1000/d" },
      ],
    },
    closed: { limits: [{ name: "burst", capacity: 2, refill: "1/h" }], onError: "closed", timeoutMs: 1000 },
    shadow: { limits: [{ name: "b.u_r-s.t", capacity: 1, refill: "1/h" }], mode: "shadow" },
  },
  routes: [{ path: "/*", policy: "single", key: "ip" }],
};
const LIMITS = limitNames(POLICIES);
const POLICY_NAMES = [...LIMITS.keys()];
const BATCH = 50;

let stack: EdgeStack;
beforeAll(async () => {
  stack = await startEdgeStack({ policies: POLICIES, bindings: { CHECK_API_TOKEN: TOKEN } });
});
afterAll(async () => {
  await stack?.stop();
});

/** A request body: the text (or bytes) sent and the decoded text the worker will see. */
interface Body {
  kind: string;
  payload: string | Uint8Array;
}

const cost = fc.oneof(
  { weight: 6, arbitrary: fc.nat(6) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(0, 1_000_000, 1_000_001, -1, 1.5, -0, 1e300, "1", true, null, [], {}),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);

const key = fc.oneof(
  { weight: 6, arbitrary: hostileString(60) },
  { weight: 2, arbitrary: longString([127, 128, 129, 1023, 1024, 1025, 5000]) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "ip:203.0.113.7",
      "key:abc",
      "~0123456789abcdef0123456789abcdef",
      "a}b{c",
      "{",
      "}",
      "x\r\ny",
      "\u0000",
      "é".repeat(512),
      "é".repeat(513),
      " ",
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);

const policy = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...POLICY_NAMES) },
  { weight: 2, arbitrary: hostileString(20) },
  { weight: 1, arbitrary: fc.constantFrom("", "SINGLE", "single ", "__proto__", "constructor", "toString") },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);

const structured = fc
  .record(
    {
      policy,
      key,
      cost,
      extra: fc.tuple(hostileString(8), fc.jsonValue({ maxDepth: 1 })),
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...body }) => {
    // One body in five also carries an unknown field.
    const withExtra: Record<string, unknown> =
      extra && extra[0].length % 5 === 1 ? { ...body, [extra[0]]: extra[1] } : body;
    return withExtra;
  });

const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 80, arbitrary: structured.map((b) => ({ kind: "structured", payload: JSON.stringify(b) })) },
  { weight: 20, arbitrary: fc.jsonValue().map((v) => ({ kind: "json", payload: JSON.stringify(v) ?? "" })) },
  {
    weight: 20,
    arbitrary: fc.tuple(structured, fc.nat(), fc.nat(3), hostileString(4)).map(([b, at, cut, insert]) => {
      const text = JSON.stringify(b);
      const i = at % (text.length + 1);
      return { kind: "broken", payload: text.slice(0, i) + insert + text.slice(i + cut) };
    }),
  },
  {
    weight: 20,
    arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: "bytes", payload: bytes })),
  },
  { weight: 10, arbitrary: hostileString(100).map((t) => ({ kind: "text", payload: t })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...POLICY_NAMES), longString([16 * 1024, 256 * 1024]))
      .map(([p, big]) => ({ kind: "huge", payload: JSON.stringify({ policy: p, key: big }) })),
  },
);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The oracle: whether the check API must accept the body (the schema in docs and check-api.ts). */
function accepted(text: string): { policy: string; key: string; cost: number } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const { policy, key, cost = 1, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return null;
  if (typeof policy !== "string" || !LIMITS.has(policy)) return null;
  if (typeof key !== "string" || key.length === 0 || encoder.encode(key).byteLength > 1024) return null;
  if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0 || cost > 1_000_000) return null;
  return { policy, key, cost };
}

const DETAIL_NAMES_FIELD = /^(?:body|policy|key|cost)[:.]/;

async function send(
  method: string,
  path: string,
  body?: string | Uint8Array,
  token: string | null = TOKEN,
): Promise<{ status: number; type: string | null; json: Record<string, unknown> | null; text: string }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers,
    body: typeof body === "string" || body === undefined ? body : new Uint8Array(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, type: res.headers.get("Content-Type"), json, text };
}

type Answer = Awaited<ReturnType<typeof send>>;

/** The problems with an answer that must be a decision (200/429 JSON) or a named 4xx problem. */
function answerProblems(answer: Answer): string[] {
  const { status, type, json } = answer;
  if (status === 200 || status === 429) {
    if (type !== "application/json") return [`decision with Content-Type ${type}`];
    if (json?.allowed !== (status === 200)) return [`decision body ${answer.text.slice(0, 200)}`];
    if (!LIMITS.has(String(json.policy))) return [`decision for policy ${String(json.policy)}`];
    return [];
  }
  if (status < 400 || status > 499) return [`status ${status}: ${answer.text.slice(0, 300)}`];
  if (type !== "application/problem+json") return [`${status} with Content-Type ${type}`];
  if (json?.status !== status || typeof json.detail !== "string" || json.detail.length === 0)
    return [`${status} problem without a detail: ${answer.text.slice(0, 300)}`];
  return [];
}

function show(value: unknown): string {
  const text =
    typeof value === "string" ? value : `bytes[${Buffer.from(value as Uint8Array).toString("hex")}]`;
  return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text);
}

/** Keys the accepted requests may have written. */
const expectedKeys = new Set<string>();
let acceptedCount = 0;

describe("fuzz: check API through the real worker", () => {
  const RUNS = 200;
  it(`POST /v1/check with random bodies: decisions or named 400s, never 5xx (${RUNS * BATCH} inputs)`, async () => {
    let count = 0;
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArb, { minLength: BATCH, maxLength: BATCH }), async (bodies) => {
        const answers = await inBatches(bodies, BATCH, (b) => send("POST", "/v1/check", b.payload));
        for (const [i, answer] of answers.entries()) {
          const body = bodies[i] as Body;
          count++;
          kinds.set(body.kind, (kinds.get(body.kind) ?? 0) + 1);
          const text = typeof body.payload === "string" ? body.payload : decoder.decode(body.payload);
          const ok = accepted(text);
          const problems = answerProblems(answer);
          if (ok && answer.status !== 200 && answer.status !== 429)
            problems.push(`valid body answered ${answer.status}: ${answer.text.slice(0, 300)}`);
          if (!ok && answer.status !== 400) problems.push(`invalid body answered ${answer.status}`);
          if (!ok && answer.status === 400 && !DETAIL_NAMES_FIELD.test(String(answer.json?.detail)))
            problems.push(`400 detail names no field: ${String(answer.json?.detail).slice(0, 200)}`);
          if (problems.length > 0) throw new Error(`body ${show(body.payload)}: ${problems.join("; ")}`);
          if (ok) {
            acceptedCount++;
            const names = LIMITS.get(ok.policy) ?? [];
            for (const k of await bucketKeys(PREFIX, ok.key, ok.policy, names)) expectedKeys.add(k);
          }
        }
      }),
      params(RUNS, { endOnFailure: true }),
    );
    report(
      "check API / POST /v1/check bodies",
      count,
      `by kind ${JSON.stringify(Object.fromEntries(kinds))}`,
    );
    expect(count).toBe(RUNS * BATCH);
  }, 120_000);

  const segment = fc.oneof(
    { weight: 3, arbitrary: hostileString(30).map((s) => ({ raw: false, text: s })) },
    {
      weight: 2,
      arbitrary: fc
        .string({
          unit: fc.constantFrom(
            "a",
            "Z",
            "0",
            "-",
            ".",
            "_",
            "~",
            "%",
            "2",
            "F",
            "7",
            "B",
            "D",
            "{",
            "}",
            ":",
            "@",
            "!",
            "$",
            "'",
            "(",
            "*",
            "+",
            ",",
            ";",
            "=",
            "é",
          ),
          maxLength: 20,
        })
        .map((s) => ({ raw: true, text: s })),
    },
    { weight: 2, arbitrary: longString([1024, 1025, 3000]).map((s) => ({ raw: false, text: s })) },
  );
  const pathArb = fc.record({
    method: fc.constantFrom("GET", "GET", "GET", "GET", "DELETE", "DELETE", "DELETE", "POST", "PUT", "HEAD"),
    policy: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...POLICY_NAMES).map((p) => ({ raw: true, text: p })) },
      { weight: 1, arbitrary: segment },
    ),
    key: segment,
    shape: fc.constantFrom(...Array<string>(7).fill("buckets"), "trailing", "deeper", "other"),
  });

  function encode(s: { raw: boolean; text: string }): string {
    if (s.raw) return s.text;
    // encodeURIComponent refuses lone surrogates; send those as the replacement character would arrive.
    return encodeURIComponent(s.text.replace(/[\ud800-\udfff]/gu, "\ufffd"));
  }

  it(`GET/DELETE /v1/buckets/:policy/:key with random paths: 200 or a named 4xx (${RUNS * BATCH} inputs)`, async () => {
    let count = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(pathArb, { minLength: BATCH, maxLength: BATCH }), async (paths) => {
        const built = paths.map((p) => {
          const base = `/v1/buckets/${encode(p.policy)}/${encode(p.key)}`;
          const path =
            p.shape === "trailing"
              ? `${base}/`
              : p.shape === "deeper"
                ? `${base}/x`
                : p.shape === "other"
                  ? `/v1/${encode(p.key)}`
                  : base;
          return { method: p.method, path };
        });
        const answers = await inBatches(built, BATCH, (b) => send(b.method, b.path));
        for (const [i, answer] of answers.entries()) {
          count++;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const req = built[i] as { method: string; path: string };
          // HEAD answers carry no body to check.
          const problems =
            req.method === "HEAD"
              ? answer.status >= 500
                ? [`HEAD ${answer.status}`]
                : []
              : answerProblems(answer);
          if (problems.length > 0) throw new Error(`${req.method} ${show(req.path)}: ${problems.join("; ")}`);
        }
      }),
      params(RUNS, { endOnFailure: true }),
    );
    report("check API / bucket paths", count, `statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(count).toBe(RUNS * BATCH);
  }, 120_000);

  it("afterwards: the worker still answers, and every Redis key is a bucket key in the namespace", async () => {
    const health = await fetch(`${stack.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, redis: "ok" });
    const { keys, violations } = await namespaceViolations(stack.raw, PREFIX, LIMITS);
    expect(violations).toEqual([]);
    // Bodies are checked against the exact keys they may write; paths only against the namespace.
    const fromBodies = keys.filter((k) => expectedKeys.has(k));
    report("check API / Redis keys after fuzzing", keys.length, `${fromBodies.length} matched a fuzzed body`);
    expect(acceptedCount).toBeGreaterThan(1000);
    expect(fromBodies.length).toBeGreaterThan(0);
  });
});
