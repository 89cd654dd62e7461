/** @module Starts the full local stacks the benchmark compares (limiting on/off, 1–3 instances) side by side. */
import { type Stack, startStack } from "../local/stack";
import { STACK_POLICIES } from "./policies";
import { type BenchContext, onInterrupt } from "./support";

/** The stacks of one run, all alive at once so their measurements can alternate. */
export interface BenchStacks {
  on3: Stack;
  off3: Stack;
  on1: Stack;
  on2: Stack;
  stopAll(): Promise<void>;
}

/** Waits for both starts to settle (so none is left running unnoticed), then rethrows the first failure. */
async function both(a: Promise<Stack>, b: Promise<Stack>): Promise<[Stack, Stack]> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === "rejected") throw x.reason;
  if (y.status === "rejected") throw y.reason;
  return [x.value, y.value];
}

/**
 * Starts four full stacks (each: its own Redis, REST proxy, workerd instances and NGINX): 3 instances
 * with limiting on and off, and 1 and 2 instances with limiting on. Idle stacks cost memory, not CPU.
 *
 * @example
 * const stacks = await startBenchStacks(ctx);
 * try { … } finally { await stacks.stopAll(); }
 */
export async function startBenchStacks(ctx: BenchContext): Promise<BenchStacks> {
  const policies = JSON.stringify(STACK_POLICIES);
  const started: Stack[] = [];
  let fatal: string | undefined;
  const one = async (name: string, instances: number, limitingOff: boolean) => {
    const stack = await startStack({
      port: 0,
      proxyPort: 0,
      instances,
      policies,
      limitingOff,
      log: (line) => {
        if (/stopping|died|restart/i.test(line)) ctx.log(`stack ${name}: ${line}`);
      },
      onFatal: (reason) => {
        fatal = `stack ${name}: ${reason}`;
      },
    });
    started.push(stack);
    ctx.log(
      `stack ${name} up: ${instances} instance(s), limiting ${limitingOff ? "off" : "on"}, ${stack.url}`,
    );
    return stack;
  };
  const stopAll = async () => {
    forget();
    await Promise.all(started.map((s) => s.stop()));
  };
  const forget = onInterrupt(stopAll);
  try {
    // A full run starts two at a time (nine workerd starting at once on two cores slow each other down);
    // a quick run starts all four at once, which is slower per stack but shorter in total.
    const pairA = both(one("on-3", 3, false), one("off-3", 3, true));
    const pairB = ctx.quick ? both(one("on-1", 1, false), one("on-2", 2, false)) : undefined;
    const [on3, off3] = await pairA.finally(() => pairB?.catch(() => undefined));
    const [on1, on2] = await (pairB ?? both(one("on-1", 1, false), one("on-2", 2, false)));
    if (fatal) throw new Error(fatal);
    return { on3, off3, on1, on2, stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
