/** @module The proxy when Redis goes away, hangs or comes back, and when the proxy itself is stopped. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type RedisServer, startRedis, waitUntil } from "../../../local/support";
import { post, startTestProxy, type TestProxy } from "../../helpers/proxy";

const TIMEOUT_MS = 500;

describe("Redis outages", () => {
  let redis: RedisServer;
  let proxy: TestProxy;

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startTestProxy(redis.url, ["--timeout-ms", String(TIMEOUT_MS)]);
  });

  afterAll(async () => {
    await proxy?.stop();
    await redis?.stop();
  });

  it("answers a JSON error within the timeout when Redis hangs, then recovers", async () => {
    expect(await post(proxy, ["set", "k", "before"])).toMatchObject({ status: 200, body: { result: "OK" } });
    process.kill(redis.process.pid, "SIGSTOP");
    try {
      const [single, pipeline] = await Promise.all([
        post(proxy, ["get", "k"]),
        post(
          proxy,
          [
            ["get", "k"],
            ["incr", "n"],
          ],
          "/pipeline",
        ),
      ]);
      expect(single.status).toBe(504);
      expect(single.body).toEqual({ error: `ERR proxy: Redis did not answer within ${TIMEOUT_MS} ms` });
      expect(single.ms).toBeLessThan(TIMEOUT_MS + 400);
      expect(pipeline.status).toBe(504);
      expect(pipeline.ms).toBeLessThan(TIMEOUT_MS + 400);
      const tx = await post(proxy, [["incr", "n"]], "/multi-exec");
      expect(tx.status).toBe(504);
      expect(tx.ms).toBeLessThan(TIMEOUT_MS + 400);
    } finally {
      process.kill(redis.process.pid, "SIGCONT");
    }
    await waitUntil("proxy serves again", async () => (await post(proxy, ["get", "k"])).status === 200);
    expect(await post(proxy, ["get", "k"])).toMatchObject({ status: 200, body: { result: "before" } });
  });

  it("answers JSON errors while Redis is down, keeps running, and recovers on the same port", async () => {
    const port = redis.port;
    await redis.stop();
    const down = await post(proxy, ["get", "k"]);
    expect(down.status).toBeGreaterThanOrEqual(503);
    expect((down.body as { error: string }).error).toMatch(
      /^ERR proxy: Redis (is unavailable|did not answer)/,
    );
    expect(down.ms).toBeLessThan(TIMEOUT_MS + 400);
    const pipeline = await post(proxy, [["get", "k"]], "/pipeline");
    expect(pipeline.status).toBe(200);
    expect((pipeline.body as Array<{ error: string }>)[0]?.error).toMatch(/^ERR proxy: Redis /);
    const health = await fetch(`${proxy.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ error: "ERR proxy: Redis is not connected" });
    expect(proxy.process.child.exitCode).toBeNull();

    redis = await startRedis({ port });
    await waitUntil("proxy reconnects", async () => (await post(proxy, ["ping"])).status === 200, {
      timeoutMs: 10_000,
    });
    expect(await post(proxy, ["incr", "fresh"])).toMatchObject({ status: 200, body: { result: 1 } });
    expect(await post(proxy, [["incr", "fresh"]], "/multi-exec")).toMatchObject({
      status: 200,
      body: [{ result: 2 }],
    });
  });
});

describe("graceful shutdown", () => {
  it("finishes an in-flight request on SIGTERM, then exits 0", async () => {
    const redis = await startRedis();
    const proxy = await startTestProxy(redis.url, ["--timeout-ms", "3000"]);
    try {
      // A Lua busy-wait keeps the request in flight for ~1 s: SIGTERM comes 400 ms in, however loaded the machine.
      const slow =
        "local t0 = redis.call('TIME') local start = t0[1] * 1e6 + t0[2] " +
        "while true do local t = redis.call('TIME') if t[1] * 1e6 + t[2] - start > 1000000 then break end end " +
        "return 'done'";
      const inFlight = post(proxy, ["eval", slow, 0]);
      await new Promise((resolve) => setTimeout(resolve, 400));
      proxy.process.child.kill("SIGTERM");
      expect(await inFlight).toMatchObject({ status: 200, body: { result: "done" } });
      expect(await proxy.process.exited).toBe(0);
      await expect(fetch(`${proxy.url}/healthz`)).rejects.toThrow();
    } finally {
      await proxy.stop();
      await redis.stop();
    }
  });
});

describe("Redis never there", () => {
  it("listens anyway and answers 503 JSON at once: to commands, pipelines and /healthz", async () => {
    const proxy = await startTestProxy(`redis://127.0.0.1:${await freePort()}`, ["--timeout-ms", "5000"], {
      ready: "listening",
    });
    try {
      const single = await post(proxy, ["get", "k"]);
      expect(single.status).toBe(503);
      expect((single.body as { error: string }).error).toMatch(/^ERR proxy: Redis is unavailable/);
      // Refused because Redis is not connected, not held until the command timeout (5 s here).
      expect(single.ms).toBeLessThan(5000);
      const pipeline = await post(proxy, [["get", "k"]], "/pipeline");
      expect(pipeline.status).toBe(200);
      expect((pipeline.body as Array<{ error: string }>)[0]?.error).toMatch(
        /^ERR proxy: Redis is unavailable/,
      );
      const health = await fetch(`${proxy.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ error: "ERR proxy: Redis is not connected" });
    } finally {
      await proxy.stop();
    }
  });
});
