/** @module Keeps the stack's processes alive: reports a death, restarts with backoff, gives up on a crash loop. */
import { deterministicFailure, type ManagedProcess } from "../support";

/** One supervised part of the stack. */
export interface PartSpec {
  name: string;
  address: string;
  /** Starts the process and resolves once it is ready to serve. */
  start(): Promise<ManagedProcess>;
}

export interface PartStatus {
  name: string;
  address: string;
  pid: number;
  restarts: number;
  state: "running" | "restarting" | "stopped";
}

const MAX_DEATHS = 5;
const DEATH_WINDOW_MS = 60_000;
const BACKOFF_MS = [250, 500, 1000, 2000, 4000];

interface Part {
  spec: PartSpec;
  process: ManagedProcess | null;
  restarts: number;
  deaths: number[];
  state: PartStatus["state"];
}

/**
 * Starts parts in order, restarts any that die (250 ms, 500 ms, … up to 4 s apart), and calls `onFatal`
 * when one dies more than 5 times in a minute, or at once when it died of something a restart cannot
 * cure (its port taken, a usage error).
 *
 * @example
 * const sup = new Supervisor(console.log, (why) => stop(why));
 * await sup.add({ name: "redis", address: "127.0.0.1:6390", start: () => startRedisProcess() });
 */
export class Supervisor {
  private readonly parts: Part[] = [];
  /** (Re)starts in flight: their processes are in no part yet, so `stopAll` waits for them. */
  private readonly launching = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly log: (line: string) => void,
    private readonly onFatal: (reason: string) => void,
  ) {}

  /** Starts `spec` and watches it; rejects if the first start fails. */
  async add(spec: PartSpec): Promise<void> {
    const part: Part = { spec, process: null, restarts: 0, deaths: [], state: "restarting" };
    this.parts.push(part);
    await this.launch(part);
  }

  private launch(part: Part): Promise<void> {
    const launched = this.startPart(part);
    this.launching.add(launched);
    const forget = () => void this.launching.delete(launched);
    launched.then(forget, forget);
    return launched;
  }

  private async startPart(part: Part): Promise<void> {
    const child = await part.spec.start();
    // stopAll() ran while this part was restarting: it could not see this process, so stop it here,
    // or it would outlive the stack.
    if (this.stopping) {
      await child.stop();
      return;
    }
    part.process = child;
    part.state = "running";
    void child.exited.then((code) => this.onExit(part, child, code));
  }

  private async onExit(part: Part, child: ManagedProcess, code: number | string): Promise<void> {
    if (this.stopping || part.process !== child) return;
    const now = Date.now();
    part.deaths = [...part.deaths.filter((t) => now - t < DEATH_WINDOW_MS), now];
    part.state = "restarting";
    const tail = child.output().trim().split("\n").slice(-3).join(" | ");
    this.log(`✗ ${part.spec.name} (pid ${child.pid}) exited with ${code}${tail ? `: ${tail}` : ""}`);
    if (deterministicFailure(code, child.output())) {
      this.onFatal(`${part.spec.name} can't run on ${part.spec.address} (${tail || code}); not retrying`);
      return;
    }
    if (part.deaths.length > MAX_DEATHS) {
      this.onFatal(`${part.spec.name} died ${part.deaths.length} times within a minute; giving up`);
      return;
    }
    const delay = BACKOFF_MS[Math.min(part.deaths.length - 1, BACKOFF_MS.length - 1)] ?? 1000;
    await new Promise((r) => setTimeout(r, delay));
    if (this.stopping) return;
    try {
      await this.launch(part);
      if (this.stopping) return;
      part.restarts++;
      this.log(`↻ ${part.spec.name} restarted (pid ${part.process?.pid}) on ${part.spec.address}`);
    } catch (error) {
      this.log(`✗ ${part.spec.name} failed to restart: ${(error as Error).message.split("\n")[0]}`);
      // Count the failed start as another death and try again on the same schedule.
      void this.onExit(part, child, "restart failed");
    }
  }

  /** One row per part, in start order. */
  status(): PartStatus[] {
    return this.parts.map((p) => ({
      name: p.spec.name,
      address: p.spec.address,
      pid: p.process?.pid ?? -1,
      restarts: p.restarts,
      state: p.state,
    }));
  }

  /** Whether every part has a live process of its own (none restarting or stopped). */
  allRunning(): boolean {
    return this.parts.every(
      (p) =>
        p.state === "running" &&
        p.process !== null &&
        p.process.child.exitCode === null &&
        p.process.child.signalCode === null,
    );
  }

  /** The running process of part `name` (tests kill it to prove supervision). */
  process(name: string): ManagedProcess | null {
    return this.parts.find((p) => p.spec.name === name)?.process ?? null;
  }

  /** Stops every part, last started first, and waits until all are gone. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.launching]);
    for (const part of [...this.parts].reverse()) {
      part.state = "stopped";
      await part.process?.stop();
    }
  }
}
