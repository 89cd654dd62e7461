/** @module The demo page in real Chromium, on another origin than the API: CORS-visible headers and the 60-request burst. */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, resolveCommand } from "../../local/support";
import { type DemoServer, ECOSYSTEM, startDemoServer } from "../../local/tools";
import { RATE_LIMIT_HEADERS } from "../../workers/headers";
import { type EdgeStack, startEdgeStack } from "../helpers/edge-stack";
import { burstPolicies, type Gateway, serverDenials, startGateway } from "./gateway";

const SCREENSHOT = "test-results/demo.png";

let stack: EdgeStack;
let gateway: Gateway;
let demo: DemoServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // The global setup installed Chromium (or stopped the run naming the package): never a reason to skip.
  const executablePath = resolveCommand("chromium");
  if (!executablePath) throw new Error("chromium is not on PATH although the global setup checked for it");
  // The page's origin must be known before the API starts, since CORS origins are exact.
  const demoPort = await freePort();
  const pageOrigin = `http://127.0.0.1:${demoPort}`;
  stack = await startEdgeStack({ policies: burstPolicies(pageOrigin), instances: 2 });
  gateway = await startGateway(stack.edges.map((e) => e.url));
  demo = await startDemoServer({ apiUrl: gateway.url, port: demoPort });
  browser = await chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${demo.url}/`);
  await page.waitForFunction(() => typeof window.demoRun === "function");
  expect(errors).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  await gateway?.stop();
  await stack?.stop();
});

describe("demo page in Chromium", () => {
  it("serves the page from another origin than the API", () => {
    expect(new URL(demo.url).origin).not.toBe(new URL(gateway.url).origin);
  });

  it("reads every rate-limit header through CORS, on 200 and on 429", async () => {
    const answers = await page.evaluate(
      async ({ api, names }) => {
        const out: { status: number; headers: Record<string, string | null> }[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await fetch(`${api}/demo-api/cors/${i}`, { cache: "no-store" });
          out.push({
            status: res.status,
            headers: Object.fromEntries(names.map((n) => [n, res.headers.get(n)])),
          });
        }
        return out;
      },
      { api: gateway.url, names: [...RATE_LIMIT_HEADERS] },
    );
    const nowS = Date.now() / 1000;
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    // A 2-token bucket refilling 1/min: w = 120 s to fill from empty; t counts down from there (a slow
    // instance on a busy machine can make it read a second less).
    const expected = [
      { r: 1, t: [59, 60], remaining: "1", reason: "allowed", retry: [null] },
      { r: 0, t: [119, 120], remaining: "0", reason: "allowed", retry: [null] },
      { r: 0, t: [119, 120], remaining: "0", reason: "limit_exceeded", retry: ["59", "60"] },
    ];
    answers.forEach(({ headers }, i) => {
      const want = expected[i] as (typeof expected)[number];
      expect(headers).toMatchObject({
        "RateLimit-Policy": '"burst";q=2;w=120;erl-refill=continuous',
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": want.remaining,
        "X-RateLimit-Reason": want.reason,
      });
      const rateLimit = /^"burst";r=(\d+);t=(\d+)$/.exec(headers.RateLimit ?? "");
      expect(Number(rateLimit?.[1])).toBe(want.r);
      expect(want.t).toContain(Number(rateLimit?.[2]));
      expect(want.retry).toContain(headers["Retry-After"]);
      expect(headers["X-Served-By"]).toMatch(/^edge-[12]$/);
      const reset = Number(headers["X-RateLimit-Reset"]);
      expect(reset).toBeGreaterThan(nowS);
      expect(reset).toBeLessThanOrEqual(Math.ceil(nowS) + 121);
    });
  });

  it("a 60-request burst: plain fetch draws many 429s, the client none, and every request completes", async () => {
    await page.click("#run-plain");
    await page.waitForFunction(() => window.demoResults.plain?.done === true, undefined, { timeout: 15_000 });
    await page.click("#run-client");
    await page.waitForFunction(() => window.demoResults.client?.done === true, undefined, {
      timeout: 30_000,
    });
    const results = await page.evaluate(() => window.demoResults);
    console.log(`browser plain fetch: ${JSON.stringify(results.plain)}`);
    console.log(`browser backoff client: ${JSON.stringify(results.client)}`);
    const { plain, client } = results;
    if (!plain || !client) throw new Error("demo results missing");

    expect(plain.ok + plain.throttled).toBe(60);
    expect(plain.errors).toBe(0);
    // Exactly the bucket's 10, plus one per 200 ms the burst lasts: Chromium's six connections per host
    // stretch it to about a second, longer on a busy machine.
    expect(plain.ok).toBeGreaterThanOrEqual(10);
    expect(plain.ok).toBeLessThanOrEqual(10 + Math.floor((plain.ms / 1000) * 5));
    expect(plain.throttled).toBeGreaterThanOrEqual(30);
    expect(await serverDenials(stack, "demo-plain")).toBe(plain.throttled);

    expect(client).toMatchObject({ total: 60, ok: 60, throttled: 0, errors: 0, sent: 60, done: true });
    expect(await serverDenials(stack, "demo-client")).toBe(0);
    // Not a speed test, but pacing from headers should land near (60 − 10) / 5 s.
    expect(client.ms).toBeGreaterThanOrEqual(9000);
    expect(client.ms).toBeLessThanOrEqual(12_000);

    await page.waitForTimeout(100);
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 60_000);
});

describe("demo page: the dialect selector", () => {
  it("offers our edge and every ecosystem server", async () => {
    const options = await page.$$eval("#dialect option", (els) =>
      els.map((e) => (e as HTMLOptionElement).value),
    );
    expect(options).toEqual(["edge", ...ECOSYSTEM.map((e) => e.kind)]);
    expect(demo.dialects.map((d) => d.id)).toEqual(ECOSYSTEM.map((e) => e.kind));
  });

  for (const { id, how, serverMax } of [
    { id: "express-draft-7", how: "[draft-07 · window]", serverMax: 1 },
    { id: "retry-after-only", how: "[retry-after · flow]", serverMax: 49 },
  ]) {
    it(`${id}: the client's burst ends 200 for all 60, and the page says how it read the server`, async () => {
      await page.selectOption("#dialect", id);
      expect(await page.evaluate(() => window.demoDialect)).toBe(id);
      const api = demo.dialects.find((d) => d.id === id)?.url;
      expect(await page.textContent("#api")).toBe(api);
      await page.click("#run-client");
      await page.waitForFunction(() => window.demoResults.client?.done === true, undefined, {
        timeout: 45_000,
      });
      const client = await page.evaluate(() => window.demoResults.client);
      console.log(`browser backoff client, ${id}: ${JSON.stringify(client)}`);
      expect(client).toMatchObject({ total: 60, ok: 60, throttled: 0, errors: 0, done: true });
      // Readable headers: at most one 429 sent; none readable: fewer than plain fetch's 50.
      expect(demo.throttled(id, "/demo-api/client")).toBeLessThanOrEqual(serverMax);
      expect(await page.textContent("#events")).toContain(how);
      await page.screenshot({ path: `test-results/demo-${id}.png`, fullPage: true });
    }, 60_000);
  }
});
