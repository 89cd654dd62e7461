/** @module Runs wrk (with `--latency`) and parses its report: requests/s, non-2xx, socket errors, latency percentiles. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What one wrk run measured. Latencies are milliseconds. */
export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSec: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  socketErrors: number;
  /** Requests/s that got a 2xx/3xx answer: the figure the scenarios compare. */
  okPerSec: number;
  latencyMs: { avg: number; p50: number; p75: number; p90: number; p99: number };
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  threads?: number;
  /** A Lua script in bench/wrk/ (file name) or an absolute path. */
  script?: string;
  /** Extra environment the Lua script reads (tokens, keys, batch sizes). */
  env?: Record<string, string>;
}

const WRK_DIR = fileURLToPath(new URL("./wrk/", import.meta.url));

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/**
 * A wrk duration such as `812.33us`, `2.10ms` or `1.02s`, in milliseconds.
 *
 * @example
 * parseDurationMs("2.10ms"); // 2.1
 */
export function parseDurationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read the duration "${text}"`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] ?? Number.NaN);
}

function numberAfter(output: string, pattern: RegExp, what: string): number {
  const match = pattern.exec(output);
  if (!match?.[1]) throw new Error(`wrk: no ${what} in its output:\n${output}`);
  return Number(match[1]);
}

/**
 * Parses wrk's text report (run with `--latency`).
 *
 * @example
 * const result = parseWrkOutput(stdout);
 * console.log(result.requestsPerSec, result.latencyMs.p99);
 */
export function parseWrkOutput(output: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(output);
  if (!total?.[1] || !total[2]) throw new Error(`wrk: no request count in its output:\n${output}`);
  const requests = Number(total[1]);
  const seconds = parseDurationMs(total[2]) / 1000;
  const percentile = (p: number) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(output);
    if (!match?.[1]) throw new Error(`wrk: no ${p}% latency in its output (run with --latency):\n${output}`);
    return parseDurationMs(match[1]);
  };
  const avg = /^\s+Latency\s+(\S+)/m.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const bad = Number(non2xx?.[1] ?? 0);
  return {
    requests,
    seconds,
    requestsPerSec: numberAfter(output, /Requests\/sec:\s+([\d.]+)/, "Requests/sec"),
    non2xx: bad,
    socketErrors,
    okPerSec: Math.max(0, requests - bad) / seconds,
    latencyMs: {
      avg: avg?.[1] ? parseDurationMs(avg[1]) : Number.NaN,
      p50: percentile(50),
      p75: percentile(75),
      p90: percentile(90),
      p99: percentile(99),
    },
  };
}

/**
 * Runs `wrk --latency` and returns the parsed figures; rejects with wrk's output when it fails.
 *
 * @example
 * const r = await runWrk({ url: `${stack.url}/bench/x`, connections: 50, seconds: 10, script: "header-keys.lua" });
 */
export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads ?? 1}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    "--timeout",
    "5s",
    "--latency",
  ];
  if (options.script) {
    const path = options.script.startsWith("/") ? options.script : WRK_DIR + options.script;
    args.push("-s", path);
  }
  args.push(options.url);
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", (error) => reject(new Error(`wrk could not start (${error.message}): install wrk`)));
    child.on("exit", function onWrkExit(code) {
      if (code !== 0) return reject(new Error(`wrk ${args.join(" ")} exited with ${code}:\n${out}`));
      try {
        resolve(parseWrkOutput(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}
