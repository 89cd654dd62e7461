import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManagedProcess, waitUntil } from "../../local/support";
import { alive, sharedBucketBurst, startLauncher, workerdPids } from "../helpers/launcher";

// The launcher exactly as `npm start` runs it, on free ports, with a policies file of its own.
const POLICIES = {
  policies: {
    // A burst of 300 at once queues up on two cores: give Redis time to answer every decision exactly.
    shared: { limits: [{ name: "burst", capacity: 50, refill: "1/h" }], onError: "closed", timeoutMs: 5000 },
    refill: { limits: [{ name: "burst", capacity: 5, refill: "5/s" }] },
    spoof: { limits: [{ name: "burst", capacity: 3, refill: "1/h" }] },
  },
  routes: [
    { path: "/shared/*", policy: "shared", key: "header:x-client" },
    { path: "/refill/*", policy: "refill", key: "header:x-client" },
    { path: "/spoof/*", policy: "spoof", key: "ip" },
  ],
};

let launcher: ManagedProcess;
let url: string;
const pids: Record<string, number> = {};

beforeAll(async () => {
  ({ process: launcher, url } = await startLauncher(POLICIES, ["--demo-port", "0"]));
  for (const [, name, pid] of launcher
    .output()
    .matchAll(/^(redis|rest-proxy|edge-\d|nginx)\s+\S+\s+(\d+)/gm)) {
    pids[name as string] = Number(pid);
  }
}, 90_000);

afterAll(async () => {
  await launcher?.stop(10_000);
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers });

describe("local stack: npm start", () => {
  it("starts every part and prints a status table with their pids", () => {
    expect(Object.keys(pids).sort()).toEqual(["edge-1", "edge-2", "edge-3", "nginx", "redis", "rest-proxy"]);
    expect(launcher.output()).toContain(`curl -i ${url}/hello`);
  });

  it("serves the demo page from its own origin, allowed by the API's CORS", async () => {
    const demo = /Demo page:\s+(\S+)/.exec(launcher.output())?.[1] ?? "";
    const page = await fetch(demo);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(url);
    const origin = new URL(demo).origin;
    expect(origin).not.toBe(new URL(url).origin);
    const api = await get("/demo-api/plain/x", { Origin: origin });
    expect(api.status).toBe(200);
    expect(api.headers.get("Access-Control-Allow-Origin")).toBe(origin);
    expect(api.headers.get("RateLimit")).toBe('"burst";r=9;t=1');
  });

  it("round-robins consecutive requests over all 3 instances", async () => {
    const servedBy: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await get("/free/rr");
      expect(res.status).toBe(200);
      servedBy.push(res.headers.get("X-Served-By") ?? "");
    }
    expect(new Set(servedBy)).toEqual(new Set(["edge-1", "edge-2", "edge-3"]));
  });

  it("enforces one bucket across instances: 300 concurrent requests, exactly 50 allowed, all 3 deciding", async () => {
    const burst = await sharedBucketBurst(url, "one-bucket");
    expect(burst).toEqual({ allowed: 50, denied: 250, servedBy: new Set(["edge-1", "edge-2", "edge-3"]) });
  });

  it("refills across instances at the policy's rate (5/s → 10 ± 1 over 2 s)", async () => {
    const client = { "x-client": "refill" };
    for (let i = 0; i < 5; i++) expect((await get("/refill/x", client)).status).toBe(200);
    expect((await get("/refill/x", client)).status).toBe(429);
    const started = Date.now();
    let allowed = 0;
    while (Date.now() - started < 2000) {
      if ((await get("/refill/x", client)).status === 200) allowed++;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(allowed).toBeGreaterThanOrEqual(9);
    expect(allowed).toBeLessThanOrEqual(11);
  });

  it("ignores client-sent CF-Connecting-IP and X-Forwarded-For", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await get("/spoof/x", {
        "CF-Connecting-IP": `10.0.0.${i}`,
        "X-Forwarded-For": `10.1.0.${i}`,
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it("routes around a killed workerd, reports the death and brings the instance back", async () => {
    const host = pids["edge-2"] as number;
    const workerd = workerdPids(host);
    expect(workerd.length).toBeGreaterThan(0);
    for (const pid of workerd) process.kill(pid, "SIGKILL");
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await get("/free/loss");
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await waitUntil(
      "edge-2 restarted",
      async () => /↻ edge-2 restarted \(pid (\d+)\)/.test(launcher.output()),
      {
        timeoutMs: 30_000,
      },
    );
    expect(launcher.output()).toMatch(/✗ edge-2 \(pid \d+\) exited/);
    // NGINX retries the restarted instance after its fail_timeout (2 s).
    await waitUntil(
      "edge-2 serves again",
      async () => (await get("/free/back")).headers.get("X-Served-By") === "edge-2",
      { timeoutMs: 15_000, intervalMs: 50 },
    );
  });

  it("leaves no process behind after SIGTERM", async () => {
    const restarted = /↻ edge-2 restarted \(pid (\d+)\)/.exec(launcher.output());
    const all = [...Object.values(pids), Number(restarted?.[1])];
    const workerds = all.flatMap((pid) => workerdPids(pid));
    expect(workerds.length).toBeGreaterThanOrEqual(3);
    launcher.child.kill("SIGTERM");
    expect(await launcher.exited).toBe(0);
    expect(launcher.output()).toContain("Stopped.");
    expect([...all, ...workerds].filter(alive)).toEqual([]);
  });
});
