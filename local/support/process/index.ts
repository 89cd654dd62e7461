/** @module Child processes for the stack and the tests: free ports, spawn with captured output, wait, stop. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveCommand } from "../system-deps";

/**
 * The repository's root directory: the nearest folder above this module that holds package.json. Found,
 * not counted, because this module runs both as source (local/support/process/) and bundled into the
 * plain-JS parts (dist/local/<part>.js), which sit at different depths.
 */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/**
 * An absolute path inside the repository.
 *
 * @example
 * repoPath("dist/worker/worker.js"); // "/home/me/edge-rate-limiter/dist/worker/worker.js"
 */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now.
 *
 * @example
 * const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A spawned child whose output is kept (the last 64 KiB) for error messages. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;

/**
 * On Linux every child is started through util-linux's `setpriv --pdeathsig SIGTERM` (which then execs
 * it: same pid, same program): the kernel sends it SIGTERM as soon as this process ends, however it ends
 * (SIGKILL and OOM included), so no part outlives the process that started it. util-linux is part of
 * every Debian/Ubuntu base system. Elsewhere (no setpriv) children are started as they are, and only the
 * exit handler below and the entries' signal handlers stop them.
 */
const SETPRIV = process.platform === "linux" ? resolveCommand("setpriv") : null;

function withParentDeathSignal(command: string, args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ["--pdeathsig", "SIGTERM", "--", command, ...args]] : [command, args];
}

// Children run in process groups of their own (see spawnManaged), so a terminal's signal does not reach
// them; if this process exits without stopping them first (an uncaught error, process.exit), do it here.
const live = new Set<ChildProcess>();
// SIGTERM, not SIGKILL: an edge's Node process must live long enough to stop its own workerd.
process.on("exit", function stopOrphans() {
  for (const child of live) child.kill("SIGTERM");
});

/**
 * Spawns `command` with piped output (kept for diagnostics, optionally echoed).
 *
 * @example
 * const redis = spawnManaged("redis", "redis-server", ["--port", "6390"]);
 * await redis.stop();
 */
export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: (line: string) => void } = {},
): ManagedProcess {
  const [file, argv] = withParentDeathSignal(command, args);
  const child = spawn(file, argv, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a terminal's Ctrl-C reaches only the parent, which then stops children in
    // order, instead of every child dying at once and looking like a crash to the supervisor.
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-OUTPUT_LIMIT);
    if (options.echo) for (const line of text.split("\n")) if (line.trim()) options.echo(line);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  live.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
    child.on("error", (err) => {
      output += `\nspawn error: ${err.message}`;
      resolve("spawn-error");
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  return {
    name,
    child,
    pid: child.pid ?? -1,
    exited,
    output: () => output,
    async stop(graceMs = 3000) {
      if (gone) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Polls `check` until it returns true; rejects after `timeoutMs` naming `what`, or as soon as `process`
 * exits (with its output), so a crashed server never looks like a slow one.
 *
 * @example
 * await waitUntil("redis answers PING", () => ping(port), { timeoutMs: 5000, process: redis });
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; process?: ManagedProcess } = {},
): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  let exitedWith: number | string | undefined;
  void options.process?.exited.then((code) => {
    exitedWith = code;
  });
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (exitedWith !== undefined) {
      throw new Error(
        `${what}: ${options.process?.name} exited (${exitedWith}):\n${options.process?.output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const tail = options.process ? `\n${options.process.output()}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${tail}`);
}
