/** @module The stack's supervisor with real processes: restarts, and nothing outlives stopAll, even mid-restart. */
import { describe, expect, it } from "vitest";
import { Supervisor } from "../../local/stack";
import { type ManagedProcess, spawnManaged } from "../../local/support";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const gone = (p: ManagedProcess | undefined) => p?.child.exitCode !== null || p?.child.signalCode !== null;

/** A part whose restarts take `restartMs` to become ready (as an edge's workerd does). */
function sleeper(restartMs: number) {
  const started: ManagedProcess[] = [];
  const spec = {
    name: "sleeper",
    address: "-",
    async start() {
      if (started.length > 0) await sleep(restartMs);
      const child = spawnManaged("sleeper", "sleep", ["60"]);
      started.push(child);
      return child;
    },
  };
  return { spec, started };
}

describe("supervisor", () => {
  it("restarts a part that dies, and counts it", async () => {
    const logs: string[] = [];
    const supervisor = new Supervisor(
      (line) => logs.push(line),
      () => undefined,
    );
    const { spec, started } = sleeper(0);
    await supervisor.add(spec);
    started[0]?.child.kill("SIGKILL");
    // The first restart comes 250 ms after a death.
    await sleep(600);
    expect(started).toHaveLength(2);
    expect(supervisor.status()).toEqual([
      { name: "sleeper", address: "-", pid: started[1]?.pid, restarts: 1, state: "running" },
    ]);
    await supervisor.stopAll();
    expect(started.every(gone)).toBe(true);
  });

  it("stops a part that was restarting when stopAll ran, instead of leaving it behind", async () => {
    const supervisor = new Supervisor(
      () => undefined,
      () => undefined,
    );
    const { spec, started } = sleeper(500);
    await supervisor.add(spec);
    started[0]?.child.kill("SIGKILL");
    // Death, 250 ms backoff, then a start that takes 500 ms: at 400 ms the restart is in flight.
    await sleep(400);
    expect(started).toHaveLength(1);
    await supervisor.stopAll();
    expect(started).toHaveLength(2);
    expect(started.every(gone)).toBe(true);
    expect(supervisor.status()[0]).toMatchObject({ restarts: 0, state: "stopped" });
  });
});
