/** @module The proxy's command line: start-up refusals, --help, bad flags, environment variables. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type RedisServer, spawnManaged, startRedis, waitUntil } from "../../../local/support";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const CLI = ["--import", "tsx", "local/rest-proxy/cli.ts"];

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean = {
    ...process.env,
    PROXY_TOKEN: "",
    PROXY_READ_ONLY_TOKEN: "",
    PROXY_PORT: "",
    PROXY_HOST: "",
    REDIS_URL: "",
    ...env,
  };
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    env: clean,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("rest-proxy CLI", () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it("refuses to start without a token", () => {
    const result = runCli(["--port", "0", "--redis", redis.url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing to start without a token: pass --token or set PROXY_TOKEN");
  });

  it("refuses --insecure on an address that is not loopback", () => {
    const result = runCli(["--insecure", "--host", "0.0.0.0", "--port", "0", "--redis", redis.url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--insecure is only allowed on a loopback address");
  });

  it("refuses a read-only token without a full token, or equal to it", () => {
    const message =
      "a read-only token needs a (different) full token: pass --token as well as --read-only-token";
    const alone = runCli(["--insecure", "--read-only-token", "ro", "--port", "0", "--redis", redis.url]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain(message);
    const same = runCli(["--port", "0", "--redis", redis.url], {
      PROXY_TOKEN: "t",
      PROXY_READ_ONLY_TOKEN: "t",
    });
    expect(same.code).toBe(1);
    expect(same.stderr).toContain(message);
  });

  it("prints --help and exits 0", () => {
    const result = runCli(["--help"]);
    expect(result.code).toBe(0);
    for (const flag of [
      "--port",
      "--token",
      "--insecure",
      "--allow-all-commands",
      "--timeout-ms",
      "--strip-script-flags",
      "--read-only-token",
      "PROXY_READ_ONLY_TOKEN",
      "--max-streams",
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });

  it("rejects unknown flags and bad numbers with exit code 2", () => {
    const unknown = runCli(["--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    const badNumber = runCli(["--timeout-ms", "soon", "--token", "t"]);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain('--timeout-ms must be a non-negative integer (got "soon")');
    const badStreams = runCli(["--max-streams", "-1", "--token", "t"]);
    expect(badStreams.code).toBe(2);
  });

  it("takes port, tokens and Redis from the environment, and never prints a token", async () => {
    const port = await freePort();
    const token = "env-token-must-not-be-printed";
    const readOnly = "env-read-only-token-must-not-be-printed";
    const child = spawnManaged("rest-proxy", process.execPath, CLI, {
      cwd: ROOT,
      env: {
        ...process.env,
        PROXY_PORT: String(port),
        PROXY_TOKEN: token,
        PROXY_READ_ONLY_TOKEN: readOnly,
        REDIS_URL: redis.url,
      },
    });
    try {
      await waitUntil("listening line", async () => child.output().includes("listening"), { process: child });
      await redisConnected(port);
      expect(child.output()).toContain(`rest-proxy listening on http://127.0.0.1:${port} -> ${redis.url}`);
      expect(child.output()).not.toContain(token);
      expect(child.output()).not.toContain(readOnly);
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: '["ping"]',
      });
      expect(await res.json()).toEqual({ result: "PONG" });
      const read = await fetch(`http://127.0.0.1:${port}/exists/k?_token=${readOnly}`);
      expect(await read.json()).toEqual({ result: 0 });
    } finally {
      await child.stop();
    }
    expect(await child.exited).toBe(0);
  });

  it("runs without a token with --insecure on loopback", async () => {
    const port = await freePort();
    const child = spawnManaged(
      "rest-proxy",
      process.execPath,
      [...CLI, "--insecure", "--port", String(port), "--redis", redis.url],
      {
        cwd: ROOT,
        env: { ...process.env, PROXY_TOKEN: "" },
      },
    );
    try {
      await waitUntil("listening line", async () => child.output().includes("listening"), { process: child });
      await redisConnected(port);
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: '["ping"]' });
      expect(await res.json()).toEqual({ result: "PONG" });
    } finally {
      await child.stop();
    }
  });
});

/** The proxy listens before its Redis connection is up (it answers 503 meanwhile): wait for that first. */
function redisConnected(port: number): Promise<void> {
  const healthy = () =>
    fetch(`http://127.0.0.1:${port}/healthz`)
      .then((res) => res.status === 200)
      .catch(() => false);
  return waitUntil("the proxy's Redis connection", healthy);
}
