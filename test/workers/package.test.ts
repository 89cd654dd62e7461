import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../local/support";

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

// Plain Node (no TypeScript loader, no bundler) importing the built package by its name.
const SCRIPT = `
import { Redis } from "ioredis";
import { createLimiter, forStockRedis, parsePolicies, RATE_LIMIT_HEADERS } from "edge-rate-limiter";
const io = new Redis(process.env.REDIS_URL);
// Stock Redis 7.0 refuses Upstash's allow-key-locking flag: EVALSHA of the flagged script's SHA1 answers
// NOSCRIPT, and EVAL sends the script without the flag.
const redis = {
  evalsha: (sha, keys, args) => io.evalsha(sha, keys.length, ...keys, ...args),
  eval: (script, keys, args) => io.eval(forStockRedis(script), keys.length, ...keys, ...args),
  del: (...keys) => io.del(...keys),
};
// The first call connects and loads the script: give it more than the 50 ms default.
const parsed = parsePolicies({ policies: { p: { limits: [{ name: "b", capacity: 2, refill: "1/h" }], timeoutMs: 2000 } }, routes: [] });
const limiter = createLimiter({ policies: parsed.value, redis: () => redis });
const policy = parsed.value.policies.get("p");
const out = [];
for (let i = 0; i < 3; i++) {
  const d = await limiter.check(policy, "node-user", 1);
  out.push([d.allowed, d.reason, d.result.limits[0].remaining]);
}
console.log(JSON.stringify({ out, headers: RATE_LIMIT_HEADERS.length }));
io.disconnect();
`;

describe("the built package", () => {
  it("imports and limits in plain Node via its exports map", () => {
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT], {
      encoding: "utf8",
      env: { ...process.env, REDIS_URL: redis.url },
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      out: [
        [true, "allowed", 1],
        [true, "allowed", 0],
        [false, "limit_exceeded", 0],
      ],
      headers: 8,
    });
  });
});
