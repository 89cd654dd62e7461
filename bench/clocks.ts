/** @module `npm run bench:clocks`: the accuracy scenario (5) on one 3-instance stack, with the store's clock and with the caller's. */
import { startStack } from "../local/stack";
import { STACK_POLICIES } from "./policies";
import { runAccuracy } from "./scenarios/accuracy";
import { buildWorker, installInterruptHandlers, onInterrupt, requireTools } from "./support";

/**
 * Runs scenario 5 twice on the same stack, `/acc/*` (store clock) then `/acc-caller/*` (the isolates'
 * own clocks, 0 ms skew on one machine), and prints the worst over- and under-admission of each.
 *
 * @example
 * // nice -n 5 npm run bench:clocks -- --quick
 */
async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  requireTools();
  installInterruptHandlers();
  if (!process.argv.includes("--no-build")) buildWorker();
  const started = Date.now();
  const ctx = {
    quick,
    seconds: quick ? 2 : 8,
    rounds: 1,
    connections: 50,
    log: (line: string) => console.log(`[clocks ${Math.round((Date.now() - started) / 1000)}s] ${line}`),
  };
  const stack = await startStack({
    port: 0,
    proxyPort: 0,
    instances: 3,
    policies: JSON.stringify(STACK_POLICIES),
    log: () => {},
  });
  const forget = onInterrupt(() => stack.stop());
  try {
    for (const [clock, path] of [
      ["store", "/acc/x"],
      ["caller", "/acc-caller/x"],
    ] as const) {
      const result = await runAccuracy(ctx, stack, path);
      console.log(
        `clock ${clock}: worst over ${result.worstOver}, worst under ${result.worstUnder}, ` +
          `${result.clients} clients × ${result.seconds} s, statuses ${JSON.stringify(result.statuses)}`,
      );
    }
  } finally {
    forget();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(
      `bench:clocks: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
