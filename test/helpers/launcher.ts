/** @module Test helper: `npm start` as a real child process with a policies file, and process liveness checks. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ManagedProcess, spawnManaged, waitUntil } from "../../local/support";

export interface Launcher {
  process: ManagedProcess;
  /** The gateway URL the launcher printed. */
  url: string;
}

/**
 * Runs `local/stack/cli.ts` on free ports (no build: the global setup built the worker) and waits until
 * its whole status block is printed.
 *
 * @example
 * const { process, url } = await startLauncher(POLICIES, ["--demo-port", "0"]);
 */
export async function startLauncher(policies: unknown, extraArgs: string[] = []): Promise<Launcher> {
  const file = join(mkdtempSync(join(tmpdir(), "erl-launcher-")), "policies.json");
  writeFileSync(file, JSON.stringify(policies));
  const args = ["--import", "tsx", "local/stack/cli.ts", "--port", "0", "--proxy-port", "0", "--no-build"];
  const launcher = spawnManaged("launcher", process.execPath, [...args, ...extraArgs, "--policies", file]);
  const ready = /Gateway ready: (\S+)/;
  // The status block's last line: everything above it (table, URLs, sample curls) has arrived too.
  await waitUntil(
    "the launcher prints its status",
    async () => launcher.output().includes("Ctrl-C stops everything."),
    {
      timeoutMs: 90_000,
      process: launcher,
    },
  );
  return { process: launcher, url: ready.exec(launcher.output())?.[1] ?? "" };
}

/** Running, not merely a zombie waiting for its (re-)parent to reap it. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * `pid` and every process below it (children, grandchildren…), from /proc: what must be gone once the
 * process is told to stop. Read before stopping it: orphans are re-parented and no longer found this way.
 *
 * @example
 * const parts = descendants(npm.pid); // npm, the launcher, redis, the proxy, the edges, workerd, nginx
 */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (p: number) => {
    if (!alive(p)) return;
    found.push(p);
    for (const child of children.get(p) ?? []) walk(child);
  };
  walk(pid);
  return found;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The workerd processes an edge host (`local/stack/edge/cli.ts`) runs. */
export function workerdPids(hostPid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(hostPid), "workerd"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * 300 concurrent GETs of `${url}/shared/x` for one `x-client` key: what the one-bucket tests assert on.
 * `servedBy` names every instance that decided (admitted or denied): an instance's merged take may win all
 * the tokens in one call, so which instances admitted is a race, while all of them deciding is not.
 *
 * @example
 * const burst = await sharedBucketBurst(url, "one-bucket");
 * expect(burst.allowed).toBe(50);
 */
export async function sharedBucketBurst(url: string, client: string) {
  const responses = await Promise.all(
    Array.from({ length: 300 }, () => fetch(`${url}/shared/x`, { headers: { "x-client": client } })),
  );
  await Promise.all(responses.map((r) => r.arrayBuffer()));
  const allowed = responses.filter((r) => r.status === 200);
  return {
    allowed: allowed.length,
    denied: responses.filter((r) => r.status === 429).length,
    servedBy: new Set(responses.map((r) => r.headers.get("X-Served-By"))),
  };
}
