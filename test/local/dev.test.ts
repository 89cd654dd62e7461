/** @module `npm run dev` as a user runs it: real wrangler dev on the worker's source, a real Redis and the real proxy. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManagedProcess, pingRedis, REPO_ROOT, spawnManaged, waitUntil } from "../../local/support";

const POLICIES = {
  prefix: "dev",
  policies: { p: { limits: [{ name: "burst", capacity: 3, refill: "1/m" }] } },
  routes: [{ path: "/*", policy: "p", key: "ip" }],
};
const CLI = ["--import", "tsx", "local/tools/dev/cli.ts"];

function policiesFile(document: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "erl-dev-test-")), "policies.json");
  writeFileSync(file, JSON.stringify(document, null, 2));
  return file;
}

let dev: ManagedProcess;
let url = "";
let proxyUrl = "";
let redisPort = 0;

beforeAll(async () => {
  dev = spawnManaged("npm run dev", process.execPath, [
    ...CLI,
    ...["--port", "0", "--policies", policiesFile(POLICIES)],
  ]);
  await waitUntil("npm run dev prints its ready line", async () => dev.output().includes("Ctrl-C stops"), {
    timeoutMs: 120_000,
    intervalMs: 200,
    process: dev,
  });
  const ready = /Dev ready: (\S+) {2}\(REST proxy (\S+), Redis redis:\/\/127\.0\.0\.1:(\d+)\)/.exec(
    dev.output(),
  );
  [url, proxyUrl] = [ready?.[1] ?? "", ready?.[2] ?? ""];
  redisPort = Number(ready?.[3]);
}, 150_000);
afterAll(async () => {
  await dev?.stop(15_000);
});

describe("npm run dev", () => {
  it("serves the worker through wrangler dev with the variables it was given", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dev.output()).toContain("Ready on http://127.0.0.1:");
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, instance: "wrangler-dev", redis: "ok" });
  });

  it("limits exactly from Redis: 3 × 200 counting down, then 429 quota-exceeded", async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${url}/hello`);
      answers.push({
        status: res.status,
        policy: res.headers.get("RateLimit-Policy"),
        limit: res.headers.get("RateLimit"),
        remaining: res.headers.get("X-RateLimit-Remaining"),
        retryAfter: res.headers.get("Retry-After"),
        servedBy: res.headers.get("X-Served-By"),
        type: res.headers.get("Content-Type"),
        body: await res.json(),
      });
    }
    const common = { policy: '"burst";q=3;w=180;erl-refill=continuous', servedBy: "wrangler-dev" };
    const demo = { ok: true, method: "GET", path: "/hello", servedBy: "wrangler-dev" };
    expect(answers.slice(0, 3)).toEqual(
      ["2", "1", "0"].map((remaining, i) => ({
        ...common,
        status: 200,
        limit: `"burst";r=${remaining};t=${60 * (i + 1)}`,
        remaining,
        retryAfter: null,
        type: "application/json",
        body: expect.objectContaining(demo),
      })),
    );
    const denied = answers[3];
    expect(denied).toEqual({
      ...common,
      status: 429,
      limit: '"burst";r=0;t=180',
      remaining: "0",
      retryAfter: "60",
      type: "application/problem+json",
      body: {
        type: "https://iana.org/assignments/http-problem-types#quota-exceeded",
        title: "Quota Exceeded",
        status: 429,
        detail: 'rate limit exceeded: policy "p", limit "burst"',
        "violated-policies": ["burst"],
        policy: "p",
        reason: "limit_exceeded",
        retryAfterMs: denied?.body.retryAfterMs,
      },
    });
    // The bucket lives in the private Redis behind the proxy, not in the isolate.
    expect(await pingRedis(redisPort)).toBe(true);
    expect((await fetch(`${proxyUrl}/healthz`)).status).toBe(200);
  });

  it("passes the proxy token in a private env file: not on argv, no .dev.vars in the repo", () => {
    expect(existsSync(join(REPO_ROOT, ".dev.vars"))).toBe(false);
    const envFile = /--env-file (\S+)/.exec(
      readFileSync(`/proc/${wranglerPid()}/cmdline`, "utf8").replaceAll("\0", " "),
    );
    expect(envFile?.[1]).toMatch(/^\/.*\/erl-dev-[^/]+\/dev\.env$/);
    const text = readFileSync(envFile?.[1] ?? "", "utf8");
    const token = /^UPSTASH_REDIS_REST_TOKEN='([0-9a-f]{48})'$/m.exec(text)?.[1] ?? "";
    expect(token).toHaveLength(48);
    for (const pid of descendants(dev.pid)) {
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(token);
    }
  });

  it("stops wrangler dev, the proxy and Redis on SIGTERM", async () => {
    dev.child.kill("SIGTERM");
    expect(await dev.exited).toBe(0);
    expect(await pingRedis(redisPort)).toBe(false);
    await expect(fetch(`${proxyUrl}/healthz`)).rejects.toThrow();
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 30_000);
});

describe("npm run dev: bad input", () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000 });

  it("names a bad flag and exits 2 without starting anything", () => {
    const res = run(["--port", "80x"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('npm run dev: --port: expected a whole number 0–65535, got "80x"');
  });

  it("names the field of an invalid policies document", () => {
    const res = run(["--policies", policiesFile({ policies: { p: { limits: [] } }, routes: [] })]);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/^npm run dev: --policies \S+: policies\.p\.limits/m);
  });

  it("prints its help", () => {
    const res = run(["--help"]);
    expect(res.status).toBe(0);
    expect(res.stdout).toContain("Usage: npm run dev -- [options]");
  });
});

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean)
    .map(Number);
  return [...children, ...children.flatMap(descendants)];
}

/** The `wrangler dev` process the CLI started. */
function wranglerPid(): number {
  const pid = descendants(dev.pid).find((p) =>
    readFileSync(`/proc/${p}/cmdline`, "utf8").includes("wrangler.js\0dev"),
  );
  if (pid === undefined) throw new Error(`no wrangler dev process below ${dev.pid}`);
  return pid;
}
