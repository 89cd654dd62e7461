/** @module The demo page's script: fires a 60-request burst with plain fetch or the backoff client, at our API or a server of any dialect, and charts the outcome live. */
import { createBackoffFetch, readRateLimitInfo, type ThrottleEvent } from "../../../client/index.ts";

type Mode = "plain" | "client";

/** What the page exposes on `window.demoResults` once a burst has finished (and, partially, while it runs). */
interface DemoResult {
  total: number;
  ok: number;
  throttled: number;
  errors: number;
  /** Requests that actually left the page (the client holds some back). */
  sent: number;
  ms: number;
  done: boolean;
}

interface Run extends DemoResult {
  started: number;
  sends: number[];
  answers: { t: number; status: number }[];
}

declare global {
  interface Window {
    DEMO_CONFIG?: { apiUrl?: string; dialects?: Dialect[] } | null;
    demoResults: Partial<Record<Mode, DemoResult>>;
    /** The selector's current choice: the server every burst goes to. */
    demoDialect: string;
    demoRun: (mode: Mode) => Promise<DemoResult>;
  }
}

/** A server the page can burst at: our API, or one of the ecosystem's (see local/tools/ecosystem). */
interface Dialect {
  id: string;
  label: string;
  url: string;
}

const params = new URLSearchParams(location.search);
const OUR_API = (params.get("api") ?? window.DEMO_CONFIG?.apiUrl ?? location.origin).replace(/\/+$/, "");
const DIALECTS: Dialect[] = [
  { id: "edge", label: "this project's edge: draft -11 + erl-refill=continuous", url: OUR_API },
  ...(window.DEMO_CONFIG?.dialects ?? []),
];
let current: Dialect = DIALECTS.find((d) => d.id === params.get("dialect")) ?? (DIALECTS[0] as Dialect);
const BURST = Math.max(1, Math.min(500, Number(params.get("n")) || 60));
let runs: Partial<Record<Mode, Run>> = {};
const events: string[] = [];
/** The quota and how it comes back, from the server's headers, for the "best possible" guide line. */
let guide: { quota: number; windowMs: number; continuous: boolean } | null = null;
let activeClientRun: Run | null = null;
window.demoResults = {};
window.demoDialect = current.id;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Plain fetch that records when each request leaves and shows the answer's rate-limit headers. */
function observedFetch(run: () => Run | null): typeof fetch {
  return async function observed(input, init) {
    const current = run();
    if (current) current.sends.push(performance.now() - current.started);
    const res = await fetch(input, init);
    showHeaders(res);
    return res;
  };
}

const client = createBackoffFetch({
  fetch: observedFetch(() => activeClientRun),
  onThrottle: function logThrottle(e: ThrottleEvent) {
    const wait = e.waitMs === null ? "until an answer" : `${e.waitMs} ms`;
    const what = {
      "first-contact": "first contact, holding",
      paced: "pacing",
      flow: "flow window full",
      "retry-after": "held (Retry-After / backoff)",
    }[e.reason];
    const how = `[${e.dialect ?? "no headers"} · ${e.pacing ?? "unknown"}]`;
    events.unshift(`${how} ${what}${e.policy ? ` (${e.policy})` : ""}: ${wait} · ${new URL(e.url).pathname}`);
    events.length = Math.min(events.length, 8);
  },
});

/** Every dialect's header names: whichever the server sent are shown. */
const HEADER_NAMES = [
  "RateLimit-Policy",
  "RateLimit",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "X-RateLimit-Used",
  "X-RateLimit-Resource",
  "Retry-After",
  "X-Served-By",
];

function showHeaders(res: Response): void {
  const lines = HEADER_NAMES.flatMap((n) => {
    const v = res.headers.get(n);
    return v === null ? [] : [`${n}: ${v}`];
  });
  const info = readRateLimitInfo(res.headers);
  const dialect = info.dialect ?? "no rate-limit headers";
  $("headers").textContent = [`HTTP ${res.status}  (read as ${dialect})`, ...lines].join("\n");
  const limit = info.limits[0];
  if (limit?.quota && limit.windowMs) {
    guide = { quota: limit.quota, windowMs: limit.windowMs, continuous: limit.refill === "continuous" };
  }
}

function summary(run: Run): DemoResult {
  const { total, ok, throttled, errors, sent, ms, done } = run;
  return { total, ok, throttled, errors, sent: Math.max(sent, run.sends.length), ms: Math.round(ms), done };
}

async function demoRun(mode: Mode): Promise<DemoResult> {
  const run: Run = {
    total: BURST,
    ok: 0,
    throttled: 0,
    errors: 0,
    sent: 0,
    ms: 0,
    done: false,
    started: performance.now(),
    sends: [],
    answers: [],
  };
  runs[mode] = run;
  if (mode === "client") activeClientRun = run;
  const send = mode === "plain" ? observedFetch(() => run) : client;
  const button = $<HTMLButtonElement>(`run-${mode}`);
  button.disabled = true;
  // Switching servers mid-burst would mix two servers' answers in one chart.
  $<HTMLSelectElement>("dialect").disabled = true;
  startRendering();
  const record = (status: number) => {
    run.answers.push({ t: performance.now() - run.started, status });
    if (status === 429) run.throttled++;
    else if (status >= 200 && status < 300) run.ok++;
    else run.errors++;
    window.demoResults[mode] = summary(run);
  };
  await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      send(`${current.url}/demo-api/${mode}/${i}`, { cache: "no-store" }).then(
        async (res) => {
          await res.arrayBuffer().catch(() => undefined);
          record(res.status);
        },
        () => record(0),
      ),
    ),
  );
  run.ms = performance.now() - run.started;
  run.sent = run.sends.length;
  run.done = true;
  if (activeClientRun === run) activeClientRun = null;
  button.disabled = false;
  $<HTMLSelectElement>("dialect").disabled = Object.values(runs).some((r) => r && !r.done);
  window.demoResults[mode] = summary(run);
  render();
  return summary(run);
}
window.demoRun = demoRun;

// ---- rendering -------------------------------------------------------------------------------------------

const W = 640;
const H = 230;
const PAD = { left: 36, right: 12, top: 12, bottom: 40 };

function steps(times: number[], sx: (t: number) => number, sy: (n: number) => number, endT: number): string {
  const sorted = [...times].sort((a, b) => a - b);
  let d = `M${sx(0)},${sy(0)}`;
  sorted.forEach((t, i) => {
    d += ` H${sx(t).toFixed(1)} V${sy(i + 1).toFixed(1)}`;
  });
  return `${d} H${sx(endT).toFixed(1)}`;
}

/**
 * The most any client can get through: the quota at once, then the refill rate (a server that says it
 * refills continuously) or the quota again each window (what the drafts promise).
 */
function guidePath(
  g: { quota: number; windowMs: number; continuous: boolean },
  spanMs: number,
  sx: (t: number) => number,
  sy: (n: number) => number,
): string {
  const first = Math.min(BURST, g.quota);
  if (g.continuous) {
    const perMs = g.quota / g.windowMs;
    const end = Math.min(spanMs, (BURST - g.quota) / perMs);
    return `M${sx(0)},${sy(first)} L${sx(end)},${sy(Math.min(BURST, g.quota + perMs * end))} H${sx(spanMs)}`;
  }
  let d = `M${sx(0)},${sy(first)}`;
  for (let t = g.windowMs, n = first; t <= spanMs && n < BURST; t += g.windowMs) {
    n = Math.min(BURST, n + g.quota);
    d += ` H${sx(t).toFixed(1)} V${sy(n).toFixed(1)}`;
  }
  return `${d} H${sx(spanMs)}`;
}

function chart(run: Run | undefined, spanMs: number): string {
  const sx = (t: number) => PAD.left + (t / spanMs) * (W - PAD.left - PAD.right);
  const sy = (n: number) => H - PAD.bottom - (n / BURST) * (H - PAD.top - PAD.bottom);
  let svg = "";
  for (let s = 0; s * 1000 <= spanMs; s += spanMs > 16_000 ? 4 : 2) {
    svg += `<line class="grid" x1="${sx(s * 1000)}" x2="${sx(s * 1000)}" y1="${PAD.top}" y2="${H - PAD.bottom}"/>`;
    svg += `<text class="tick" x="${sx(s * 1000)}" y="${H - PAD.bottom + 14}" text-anchor="middle">${s}s</text>`;
  }
  for (const n of [0, BURST / 2, BURST]) {
    svg += `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${sy(n)}" y2="${sy(n)}"/>`;
    svg += `<text class="tick" x="${PAD.left - 6}" y="${sy(n) + 4}" text-anchor="end">${n}</text>`;
  }
  if (guide) svg += `<path class="ideal" d="${guidePath(guide, spanMs, sx, sy)}"/>`;
  if (run) {
    const now = run.done ? run.ms : performance.now() - run.started;
    const okTimes = run.answers.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.t);
    const badTimes = run.answers.filter((a) => a.status === 429).map((a) => a.t);
    svg += `<path class="line sent" d="${steps(run.sends, sx, sy, now)}"/>`;
    svg += `<path class="line ok" d="${steps(okTimes, sx, sy, now)}"/>`;
    svg += `<path class="line bad" d="${steps(badTimes, sx, sy, now)}"/>`;
    for (const a of run.answers) {
      const cls = a.status === 429 ? "bad" : a.status >= 200 && a.status < 300 ? "ok" : "err";
      svg += `<rect class="rug ${cls}" x="${(sx(a.t) - 1).toFixed(1)}" y="${H - PAD.bottom + 20}" width="2" height="12"/>`;
    }
  }
  return svg;
}

function render(): void {
  const elapsed = (r?: Run) => (r ? (r.done ? r.ms : performance.now() - r.started) : 0);
  const longest = Math.max(elapsed(runs.plain), elapsed(runs.client), 4000);
  const spanMs = Math.ceil(longest / 2000) * 2000;
  for (const mode of ["plain", "client"] as const) {
    const run = runs[mode];
    $(`chart-${mode}`).innerHTML = chart(run, spanMs);
    $(`ok-${mode}`).textContent = String(run?.ok ?? 0);
    $(`bad-${mode}`).textContent = String(run?.throttled ?? 0);
    const waiting = run ? run.total - run.answers.length : 0;
    $(`wait-${mode}`).textContent = String(waiting);
    $(`time-${mode}`).textContent = `${(elapsed(run) / 1000).toFixed(2)} s`;
    $(`card-${mode}`).dataset.state = run ? (run.done ? "done" : "running") : "idle";
  }
  $("events").textContent = events.join("\n") || "no throttling yet";
}

let rendering = false;
function startRendering(): void {
  if (rendering) return;
  rendering = true;
  const frame = () => {
    render();
    if (Object.values(runs).some((r) => r && !r.done)) requestAnimationFrame(frame);
    else rendering = false;
  };
  requestAnimationFrame(frame);
}

/** Switches the server the bursts go to; the charts start over for it. */
function selectDialect(id: string): void {
  current = DIALECTS.find((d) => d.id === id) ?? current;
  window.demoDialect = current.id;
  runs = {};
  window.demoResults = {};
  guide = null;
  events.length = 0;
  $("api").textContent = current.url;
  $("headers").textContent = "no request yet";
  render();
}

const selector = $<HTMLSelectElement>("dialect");
for (const d of DIALECTS)
  selector.add(new Option(d.label.replaceAll("`", ""), d.id, false, d.id === current.id));
selector.addEventListener("change", () => selectDialect(selector.value));
$("api").textContent = current.url;
$("burst").textContent = String(BURST);
$("run-plain").addEventListener("click", () => void demoRun("plain"));
$("run-client").addEventListener("click", () => void demoRun("client"));
render();
