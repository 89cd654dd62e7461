import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis as IoRedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../local/support";
import { startTestProxy, type TestProxy } from "../helpers/proxy";
import { hostileString, inBatches, params, report } from "./fuzz";

let redis: RedisServer;
let proxy: TestProxy;
let raw: IoRedis;
let raw1: IoRedis;
const SENTINEL = `fz:sentinel:${randomUUID()}`;
const SENTINEL_DB1 = `fz:sentinel-db1:${randomUUID()}`;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTestProxy(redis.url);
  raw = new IoRedis(redis.url);
  await raw.set(SENTINEL, "alive");
  // A key in database 1 catches SWAPDB and MOVE: it must stay where it is too.
  raw1 = new IoRedis(`${redis.url}/1`);
  await raw1.set(SENTINEL_DB1, "alive");
});
afterAll(async () => {
  raw?.disconnect();
  raw1?.disconnect();
  await proxy?.stop();
  await redis?.stop();
});

// Commands the proxy must never run (docs/rest-proxy.md "Refused commands" and "Never allowed"), as
// [name, ...args] in the spellings a client could send.
const REFUSED: string[][] = [
  ["FLUSHALL"],
  ["flushall", "ASYNC"],
  ["FlushDB"],
  ["SWAPDB", "0", "1"],
  ["CONFIG", "SET", "maxmemory", "1"],
  ["config", "resetstat"],
  ["DEBUG", "SLEEP", "0"],
  ["SHUTDOWN", "NOSAVE"],
  ["REPLICAOF", "127.0.0.1", "1"],
  ["SLAVEOF", "127.0.0.1", "1"],
  ["SAVE"],
  ["BGSAVE"],
  ["BGREWRITEAOF"],
  ["MIGRATE", "127.0.0.1", "1", "k", "0", "10"],
  ["ACL", "SETUSER", "x"],
  ["MODULE", "LIST"],
  ["FAILOVER"],
  ["SCRIPT", "kill"],
  ["FUNCTION", "FLUSH"],
  ["client", "KILL", "TYPE", "normal"],
  ["CLIENT", "pause", "1000"],
  ["BLPOP", "k", "1"],
  ["WAIT", "0", "0"],
  ["XREAD", "BLOCK", "100", "STREAMS", "s", "$"],
  ["SELECT", "1"],
  ["MULTI"],
  ["EXEC"],
  ["WATCH", "k"],
  ["SUBSCRIBE", "c"],
  ["MONITOR"],
  ["RESET"],
  ["QUIT"],
  ["HELLO", "3"],
  ["AUTH", "x"],
  ["CLIENT", "REPLY", "OFF"],
  // Names of Object.prototype members: ioredis looked them up in plain objects and crashed (fixed in
  // local/rest-proxy/commands.ts after this suite found it).
  ["valueOf", "x"],
  ["__proto__"],
  ["hasOwnProperty", "a"],
  ["constructor"],
  ["CONSTRUCTOR", "x"],
  ["toString", "a"],
  ["isPrototypeOf"],
  ["__defineGetter__", "a", "b"],
];
const REFUSAL = /^ERR proxy: .+ (?:is refused by the proxy|is not supported|is not a Redis command)/;

// Harmless names (and unknown ones) that reach Redis; none can touch the sentinels' names.
const NAMES = [
  "GET",
  "set",
  "INCR",
  "DEL",
  "EXISTS",
  "ECHO",
  "PING",
  "HSET",
  "hgetall",
  "LPUSH",
  "LRANGE",
  "EVAL",
  "EVALSHA",
  "TIME",
  "TYPE",
  "TTL",
  "EXPIRE",
  "MGET",
  "SETRANGE",
  "APPEND",
  "XADD",
  "ZADD",
  "STRLEN",
  "GETRANGE",
  "SCRIPT",
  "OBJECT",
  "nosuch",
];
const keyName = fc.oneof(
  fc.nat(20).map((n) => `fz:k:${n}`),
  hostileString(12).map((s) => `fz:h:${s}`),
);
const arg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 50, arbitrary: keyName },
  { weight: 30, arbitrary: hostileString(30) },
  { weight: 15, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1e21, 1.5, -1)) },
  { weight: 5, arbitrary: fc.boolean() },
  // Invalid argument types: the whole body is refused with 400.
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, {}, [], ["x"], { a: 1 }) },
);
const command: fc.Arbitrary<unknown[]> = fc.oneof(
  {
    weight: 40,
    arbitrary: fc
      .tuple(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
          { weight: 1, arbitrary: hostileString(10) },
        ),
        fc.array(arg, { maxLength: 6 }),
      )
      .map(([name, args]) => [name, ...args]),
  },
  { weight: 6, arbitrary: fc.constantFrom(...REFUSED) },
  { weight: 1, arbitrary: fc.constantFrom<unknown[]>([], [""], [1], [null], [["GET"]], [{}]) },
);

type Route = "/" | "/pipeline" | "/multi-exec";

interface Case {
  route: Route;
  base64: boolean;
  body: string | Uint8Array;
  /** The commands sent, when the body is a well-formed command (list); a marker key rides along. */
  commands: unknown[][] | null;
  marker: string | null;
}

const structuredCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom<Route>("/", "/pipeline", "/multi-exec"),
    fc.boolean(),
    fc.array(command, { minLength: 1, maxLength: 8 }),
    fc.nat(8),
  )
  .map(([route, base64, commands, at]) => {
    // The commands as the proxy will read them (JSON turns NaN and Infinity into null).
    const asSent = (value: unknown) => JSON.parse(JSON.stringify(value));
    if (route === "/") {
      const body = JSON.stringify(commands[0]);
      return { route, base64, body, commands: [asSent(commands[0])], marker: null };
    }
    // A marker INCR at a random position shows whether the rest of the list ran.
    const marker = `fz:marker:${randomUUID()}`;
    const list = [...commands];
    list.splice(at % (list.length + 1), 0, ["INCR", marker]);
    return { route, base64, body: JSON.stringify(list), commands: asSent(list), marker };
  });

const junkCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom<Route>("/", "/pipeline", "/multi-exec"),
    fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v) ?? ""),
      fc.uint8Array({ maxLength: 300 }),
      hostileString(100),
      fc
        .tuple(fc.array(command, { minLength: 1, maxLength: 4 }), fc.nat(), hostileString(3))
        .map(([cmds, at, insert]) => {
          const text = JSON.stringify(cmds);
          const i = at % (text.length + 1);
          return text.slice(0, i) + insert + text.slice(i + 1);
        }),
    ),
  )
  .map(([route, body]) => ({ route, base64: false, body, commands: null, marker: null }));

const caseArb = fc.oneof({ weight: 3, arbitrary: structuredCase }, { weight: 1, arbitrary: junkCase });

/** Whether the proxy's parser accepts `value` as one command (docs/rest-proxy.md "Arguments"). */
function isCommand(value: unknown): boolean {
  if (!Array.isArray(value) || value.length === 0) return false;
  if (typeof value[0] !== "string" || value[0].length === 0) return false;
  return value.slice(1).every((a) => ["string", "number", "boolean"].includes(typeof a));
}

function isRefused(cmd: unknown[]): boolean {
  return REFUSED.some(
    (r) =>
      r[0]?.toUpperCase() === String(cmd[0]).toUpperCase() &&
      r.length === cmd.length &&
      r.every((x, i) => x === cmd[i]),
  );
}

async function post(c: Case) {
  const headers: Record<string, string> = { Authorization: `Bearer ${proxy.token}` };
  if (c.base64) headers["Upstash-Encoding"] = "base64";
  const res = await fetch(`${proxy.url}${c.route}`, {
    method: "POST",
    headers,
    body: typeof c.body === "string" ? c.body : new Uint8Array(c.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("Content-Type"), text };
}

/** Everything wrong with one answer, judged against the protocol table in docs/rest-proxy.md. */
function problemsOf(c: Case, a: Awaited<ReturnType<typeof post>>): string[] {
  if (a.type !== "application/json") return [`Content-Type ${a.type}`];
  let json: unknown;
  try {
    json = JSON.parse(a.text);
  } catch {
    return [`not JSON: ${a.text.slice(0, 200)}`];
  }
  const isError = (v: unknown) =>
    typeof v === "object" &&
    v !== null &&
    Object.keys(v).join() === "error" &&
    typeof (v as { error: unknown }).error === "string";
  const isEntry = (v: unknown) =>
    isError(v) || (typeof v === "object" && v !== null && Object.keys(v).join() === "result");
  if (a.status !== 200 && a.status !== 400) return [`status ${a.status}: ${a.text.slice(0, 300)}`];
  if (a.status === 400 && !isError(json)) return [`400 without {"error"}: ${a.text.slice(0, 200)}`];
  const cmds = c.commands;
  // Junk bodies may be anything (even a valid command); they only have to get a JSON answer.
  if (cmds === null) return [];
  if (!cmds.every(isCommand)) {
    // Malformed commands are refused by the proxy itself, before Redis.
    if (a.status !== 400 || !(json as { error: string }).error.startsWith("ERR proxy: "))
      return [`malformed commands answered ${a.status} ${a.text.slice(0, 200)}`];
    return [];
  }
  const refused = cmds.map(isRefused);
  if (c.route === "/") {
    if (refused[0]) {
      if (a.status !== 400 || !REFUSAL.test((json as { error: string }).error))
        return [`refused command answered ${a.text.slice(0, 200)}`];
      return [];
    }
    if (a.status === 200 && !isEntry(json)) return [`200 without {"result"}: ${a.text.slice(0, 200)}`];
    return [];
  }
  if (c.route === "/multi-exec" && refused.some(Boolean)) {
    if (a.status !== 400 || !REFUSAL.test((json as { error: string }).error))
      return [`transaction with a refused command answered ${a.text.slice(0, 200)}`];
    return [];
  }
  if (c.route === "/pipeline" && a.status !== 200) return [`pipeline answered ${a.status}`];
  if (a.status === 400) return []; // a transaction Redis aborted (EXECABORT)
  if (!Array.isArray(json) || json.length !== cmds.length)
    return [`expected ${cmds.length} entries: ${a.text.slice(0, 200)}`];
  for (const [i, entry] of json.entries()) {
    if (!isEntry(entry)) return [`entry ${i} is ${JSON.stringify(entry)}`];
    if (refused[i] && !REFUSAL.test(String((entry as { error?: string }).error)))
      return [`refused command ${JSON.stringify(cmds[i])} at ${i} answered ${JSON.stringify(entry)}`];
  }
  return [];
}

function show(c: Case): string {
  const text = typeof c.body === "string" ? c.body : `bytes[${Buffer.from(c.body).toString("hex")}]`;
  return `${c.route} ${JSON.stringify(text.slice(0, 400))}`;
}

async function sentinelsAlive(): Promise<boolean> {
  const [db0, db1] = await Promise.all([raw.get(SENTINEL), raw1.get(SENTINEL_DB1)]);
  return db0 === "alive" && db1 === "alive";
}

describe("fuzz: REST proxy request bodies", () => {
  const BATCH = 50;
  const RUNS = 200;
  it(`random bodies to /, /pipeline and /multi-exec: JSON answers, refused commands never run (${RUNS * BATCH} inputs)`, async () => {
    let count = 0;
    const stats = {
      status200: 0,
      status400: 0,
      refusedSent: 0,
      transactionsRefused: 0,
      pipelinesWithRefused: 0,
    };
    await fc.assert(
      fc.asyncProperty(fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
        const answers = await inBatches(cases, BATCH, post);
        const markers = await Promise.all(cases.map((c) => (c.marker ? raw.get(c.marker) : null)));
        for (const [i, a] of answers.entries()) {
          const c = cases[i] as Case;
          count++;
          if (a.status === 200) stats.status200++;
          if (a.status === 400) stats.status400++;
          const problems = problemsOf(c, a);
          if (problems.length > 0) throw new Error(`${show(c)}: ${problems.join("; ")}`);
          const refused = c.commands?.every(isCommand) ? c.commands.filter(isRefused).length : 0;
          stats.refusedSent += refused;
          if (c.marker && refused > 0) {
            const marker = markers[i];
            // A transaction with a refused command runs nothing; a pipeline runs everything else.
            if (c.route === "/multi-exec") {
              stats.transactionsRefused++;
              if (marker !== null)
                throw new Error(`${show(c)}: the refused transaction ran (marker ${marker})`);
            } else {
              stats.pipelinesWithRefused++;
              if (marker !== "1")
                throw new Error(`${show(c)}: the other pipeline commands did not run (marker ${marker})`);
            }
          }
        }
        if (!(await sentinelsAlive())) throw new Error("a sentinel key vanished: a refused command ran");
      }),
      params(RUNS, { endOnFailure: true }),
    );
    report("proxy / request bodies", count, JSON.stringify(stats));
    expect(count).toBe(RUNS * BATCH);
    expect(stats.refusedSent).toBeGreaterThan(500);
    expect(stats.transactionsRefused).toBeGreaterThan(100);
  }, 120_000);

  it("command names that are Object.prototype members are refused and the proxy keeps running", async () => {
    for (const name of Object.getOwnPropertyNames(Object.prototype)) {
      for (const [route, body] of [
        ["/", [name, "k"]],
        ["/pipeline", [[name, "k"], ["PING"]]],
        ["/multi-exec", [["PING"], [name.toUpperCase()]]],
      ] as const) {
        const res = await fetch(`${proxy.url}${route}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${proxy.token}` },
          body: JSON.stringify(body),
        });
        const json = await res.json();
        const error = route === "/pipeline" ? json[0].error : json.error;
        expect(error, `${route} ${name}`).toMatch(/^ERR proxy: '.+' is not a Redis command$/);
        if (route === "/pipeline") expect(json[1]).toEqual({ result: "PONG" });
      }
    }
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
  });

  it("afterwards: the proxy answers /healthz, its process is alive, and the sentinels survived", async () => {
    const health = await fetch(`${proxy.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ result: "OK" });
    const exited = await Promise.race([
      proxy.process.exited,
      new Promise((r) => setTimeout(() => r("running"), 50)),
    ]);
    expect(exited).toBe("running");
    expect(await sentinelsAlive()).toBe(true);
    // No crash trace in the proxy's own output.
    expect(proxy.process.output()).not.toMatch(/TypeError|RangeError|Unhandled|uncaught/i);
  });
});
