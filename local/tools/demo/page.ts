/** @module The demo page's script: fires a 60-request burst with plain fetch or the backoff client and charts the outcome live. */
import { createBackoffFetch, parseRateLimitPolicy, type ThrottleEvent } from "../../../client/index.ts";

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
    DEMO_CONFIG?: { apiUrl?: string } | null;
    demoResults: Partial<Record<Mode, DemoResult>>;
    demoRun: (mode: Mode) => Promise<DemoResult>;
  }
}

const params = new URLSearchParams(location.search);
const API = (params.get("api") ?? window.DEMO_CONFIG?.apiUrl ?? location.origin).replace(/\/+$/, "");
const BURST = Math.max(1, Math.min(500, Number(params.get("n")) || 60));
const runs: Partial<Record<Mode, Run>> = {};
const events: string[] = [];
/** Refill rate and capacity from the server's RateLimit-Policy, for the "best possible" guide line. */
let bucket: { quota: number; perSecond: number } | null = null;
let activeClientRun: Run | null = null;
window.demoResults = {};

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
    const wait = e.waitMs === null ? "until the first answer" : `${e.waitMs} ms`;
    const what = { "first-contact": "first contact, holding", paced: "pacing", flow: "flow control", "retry-after": "Retry-After" }[
      e.reason
    ];
    events.unshift(`${what}${e.policy ? ` (${e.policy})` : ""}: ${wait} · ${new URL(e.url).pathname}`);
    events.length = Math.min(events.length, 8);
  },
});

function showHeaders(res: Response): void {
  const names = ["RateLimit-Policy", "RateLimit", "X-RateLimit-Remaining", "Retry-After", "X-Served-By"];
  const lines = names.flatMap((n) => {
    const v = res.headers.get(n);
    return v === null ? [] : [`${n}: ${v}`];
  });
  $("headers").textContent = [`HTTP ${res.status}`, ...lines].join("\n");
  const policy = parseRateLimitPolicy(res.headers.get("RateLimit-Policy"))[0];
  if (policy?.windowSeconds) bucket = { quota: policy.quota, perSecond: policy.quota / policy.windowSeconds };
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
      send(`${API}/demo-api/${mode}/${i}`, { cache: "no-store" }).then(
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
  if (bucket) {
    // The most any client can get through: the full bucket at once, then the refill rate.
    const end = Math.min(spanMs, ((BURST - bucket.quota) / bucket.perSecond) * 1000);
    svg += `<path class="ideal" d="M${sx(0)},${sy(Math.min(BURST, bucket.quota))} L${sx(end)},${sy(Math.min(BURST, bucket.quota + (bucket.perSecond * end) / 1000))} H${sx(spanMs)}"/>`;
  }
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

$("api").textContent = API;
$("burst").textContent = String(BURST);
$("run-plain").addEventListener("click", () => void demoRun("plain"));
$("run-client").addEventListener("click", () => void demoRun("client"));
render();
