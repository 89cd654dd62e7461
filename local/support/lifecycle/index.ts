/** @module How an entry (npm start, npm run dev) begins and ends: ports checked first, every way of being told to stop. */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import type { Result } from "../../../workers/result";

/** A port an entry is about to listen on, and the flag that changes it. */
export interface PortClaim {
  port: number;
  flag: string;
  host?: string;
}

/** Resolves with null when `port` can be bound on `host`, otherwise with the error's code (EADDRINUSE, EACCES…). */
function bindError(port: number, host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

/**
 * Who holds TCP `port`, as `ss` tells it (Linux, iproute2; only processes this user may see), or "".
 * A hint for the error message, never a condition.
 */
export function portHolder(port: number): string {
  const ss = spawnSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8", timeout: 1000 });
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(ss.stdout ?? "");
  return match ? `${match[1]} (pid ${match[2]})` : "";
}

/**
 * Checks every port before anything starts, so a taken one stops the start at once instead of as a part
 * that dies and is restarted. Port 0 (a free one, chosen later) is skipped.
 *
 * @example
 * const free = await claimPorts([{ port: 8080, flag: "--port" }]);
 * if (!free.ok) fail(free.error); // "port 8080 (--port) is in use by nginx (pid 4242): …"
 */
export async function claimPorts(claims: PortClaim[]): Promise<Result<void>> {
  for (const { port, flag, host = "127.0.0.1" } of claims) {
    if (port === 0) continue;
    const code = await bindError(port, host);
    if (code === null) continue;
    const holder = code === "EADDRINUSE" ? portHolder(port) : "";
    const why =
      code === "EADDRINUSE" ? `is in use${holder ? ` by ${holder}` : ""}` : `can't be bound (${code})`;
    return {
      ok: false,
      error: `port ${port} (${flag}) ${why}: choose another with ${flag} <n>, or ${flag} 0 for a free one`,
    };
  }
  return { ok: true, value: undefined };
}

/**
 * Whether a part failed for a reason a restart cannot cure: a usage error (exit code 2: bad flags or
 * config) or a port someone else holds. The supervisor gives up at once on these instead of retrying.
 *
 * @example
 * deterministicFailure(1, "Error: listen EADDRINUSE: address already in use 127.0.0.1:8079"); // true
 */
export function deterministicFailure(code: number | string, output: string): boolean {
  return code === 2 || /EADDRINUSE|Address already in use|bind\(\) to \S+ failed/i.test(output);
}

/**
 * Calls `stop` once, on the first of: SIGINT, SIGTERM, SIGHUP, or (when run by npm) npm going away.
 *
 * npm passes SIGTERM and SIGINT on to its script (whose shell `exec`s this process), but not SIGHUP, and
 * nothing is passed on when npm itself is killed; so under npm the entry also watches npm's pid and
 * stops when it is gone. Each part, in turn, dies with the entry (see `spawnManaged`).
 *
 * @example
 * onStopRequest((why) => stack.stop().then(() => process.exit(0)));
 */
export function onStopRequest(stop: (why: string) => void): void {
  let asked = false;
  const once = (why: string) => {
    if (asked) return;
    asked = true;
    stop(why);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => once(signal));
  if (!process.env.npm_lifecycle_event) return;
  const parent = process.ppid;
  setInterval(function watchNpm() {
    try {
      process.kill(parent, 0);
    } catch {
      once(`npm (pid ${parent}) is gone`);
    }
  }, 250).unref();
}
