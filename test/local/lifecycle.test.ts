/** @module How `npm start` and `npm run dev` end, with real processes: no part outlives them, and a taken port stops the start. */
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ManagedProcess, REPO_ROOT, spawnManaged, waitUntil } from "../../local/support";
import { alive, descendants, listening } from "../helpers/launcher";

const running: ManagedProcess[] = [];
const held: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop(10_000)));
  await Promise.all(held.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** `npm <script> -- <args>` from the repository, as a user types it; resolves once `readyLine` is printed. */
async function runNpm(script: string[], args: string[], readyLine: string): Promise<ManagedProcess> {
  const npm = spawnManaged(`npm ${script.join(" ")}`, "npm", [...script, "--", ...args], { cwd: REPO_ROOT });
  running.push(npm);
  await waitUntil(
    `npm ${script.join(" ")} prints "${readyLine}"`,
    async () => npm.output().includes(readyLine),
    {
      timeoutMs: 150_000,
      intervalMs: 200,
      process: npm,
    },
  );
  return npm;
}

/** The ports the parts listen on, read from the output (`127.0.0.1:<port>` anywhere in it). */
function portsIn(output: string): number[] {
  return [...new Set([...output.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
}

/** Waits until none of `pids` runs and none of `ports` accepts a connection, up to 5 s; returns what is left. */
async function leftAfter5s(pids: number[], ports: number[]): Promise<{ pids: number[]; ports: number[] }> {
  const left = async () => ({
    pids: pids.filter(alive),
    ports: (await Promise.all(ports.map(async (p) => ((await listening(p)) ? [p] : [])))).flat(),
  });
  const deadline = Date.now() + 5000;
  let now = await left();
  while ((now.pids.length > 0 || now.ports.length > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    now = await left();
  }
  return now;
}

/** The launcher: npm's child (npm `exec`s the script's shell into node). */
function launcherOf(npm: ManagedProcess): number {
  const [launcher] = descendants(npm.pid).filter((pid) => pid !== npm.pid);
  return launcher ?? -1;
}

const START = ["--port", "0", "--no-build", "--no-demo", "--instances", "2"];

describe("npm start ends with every part", () => {
  it("SIGTERM to npm's own pid: the stack stops in order, exit 0, no part left by pid or port", async () => {
    const npm = await runNpm(["start"], START, "Ctrl-C stops everything.");
    const parts = descendants(npm.pid).filter((pid) => pid !== npm.pid);
    const ports = portsIn(npm.output());
    // redis, proxy, 2 edge hosts + their workerd, nginx master + worker, and the launcher: at least 8.
    expect(parts.length).toBeGreaterThanOrEqual(8);
    expect(ports.length).toBe(5);
    npm.child.kill("SIGTERM");
    expect(await leftAfter5s(parts, ports)).toEqual({ pids: [], ports: [] });
    expect(npm.output()).toContain("SIGTERM: stopping the stack…");
    expect(npm.output()).toContain("Stopped.");
  });

  it("SIGKILL to the launcher: every part exits with it, none left by pid or port", async () => {
    const npm = await runNpm(["start"], START, "Ctrl-C stops everything.");
    const launcher = launcherOf(npm);
    const parts = descendants(launcher).filter((pid) => pid !== launcher);
    const ports = portsIn(npm.output());
    expect(parts.length).toBeGreaterThanOrEqual(7);
    process.kill(launcher, "SIGKILL");
    expect(await leftAfter5s([launcher, ...parts], ports)).toEqual({ pids: [], ports: [] });
  });

  it("SIGHUP to npm (which npm does not pass on): the launcher sees npm gone and stops everything", async () => {
    const npm = await runNpm(["start"], START, "Ctrl-C stops everything.");
    const parts = descendants(npm.pid).filter((pid) => pid !== npm.pid);
    const ports = portsIn(npm.output());
    npm.child.kill("SIGHUP");
    expect(await leftAfter5s(parts, ports)).toEqual({ pids: [], ports: [] });
  });
});

/** How long `node --import tsx` takes to run nothing, right now: the part of a start the launcher can't shorten. */
async function bootMs(): Promise<number> {
  const started = Date.now();
  const boot = spawnManaged("boot", process.execPath, ["--import", "tsx", "-e", ""], { cwd: REPO_ROOT });
  expect(await boot.exited).toBe(0);
  return Date.now() - started;
}

describe("npm start with a taken port", () => {
  async function holdPort(): Promise<number> {
    const server = createServer();
    held.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  it.each([
    ["--port", "the gateway"],
    ["--proxy-port", "the proxy"],
  ])("%s held by another process (%s): exit 1 naming port and flag, nothing started", async (flag) => {
    const port = await holdPort();
    const args = ["--import", "tsx", "local/stack/cli.ts", "--no-build", "--no-demo", "--port", "0"];
    const boot = await bootMs();
    const started = Date.now();
    const launcher = spawnManaged("launcher", process.execPath, [...args, flag, String(port)], {
      cwd: REPO_ROOT,
    });
    running.push(launcher);
    const code = await launcher.exited;
    const elapsed = Date.now() - started;
    expect(code).toBe(1);
    // 2 s for the launcher's own work, on top of what Node and tsx take to start on this machine now.
    expect(elapsed).toBeLessThan(2000 + boot);
    const output = launcher.output();
    expect(output).toContain(`npm start: port ${port} (${flag}) is in use`);
    expect(output).toContain(`choose another with ${flag} <n>`);
    expect(output).not.toContain("Starting");
    expect(descendants(launcher.pid)).toEqual([]);
  });
});

describe("npm run dev ends with every part", () => {
  it("SIGTERM to npm's own pid, then SIGKILL to a second launcher: no part left by pid or port", async () => {
    for (const how of ["SIGTERM to npm", "SIGKILL to the launcher"] as const) {
      const npm = await runNpm(["run", "dev"], ["--port", "0"], "Ctrl-C stops everything.");
      const launcher = launcherOf(npm);
      const parts = descendants(npm.pid).filter((pid) => pid !== npm.pid);
      const ports = portsIn(npm.output().slice(npm.output().indexOf("Dev ready:")));
      expect(ports.length, how).toBe(3); // wrangler dev, the REST proxy, Redis
      if (how === "SIGTERM to npm") npm.child.kill("SIGTERM");
      else process.kill(launcher, "SIGKILL");
      expect(await leftAfter5s(parts, ports), how).toEqual({ pids: [], ports: [] });
    }
  });
});
