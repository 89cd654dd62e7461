/** @module `npm run bench:micro`: scenario 13 on its own, with a table on stdout and optionally the JSON. */
import { writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { failUsage, readFlags, wholeNumber } from "../../local/support";
import { measureMicro } from "./index";
import { microTable } from "./table";

const HELP = `Usage: npm run bench:micro -- [--rounds 7] [--requests 20000] [--client-options] [--json <file>]

The README's Hono app inside workerd (Miniflare), in-process: every outbound fetch goes to a store stub
worker in the same workerd (no socket, no Redis). Each configuration runs --requests requests, timed inside
the isolate; rounds alternate (the order rotates) and each figure is the median over the rounds:
  (a) bare       the app without the limiter
  (b) lease      rateLimit on one hot key, answered from the isolate's lease
  (c) denied     a key the store denied once, answered 429 from the denied cache
  (d) store      a new key per request, decided by the store through @upstash/redis
                 (with the cheap client options, and with the client's defaults)
Each configuration is also reported minus (a), per round. Goals: (b) − (a) ≤ 15 µs, (c) − (a) ≤ 30 µs.

Options:
  --rounds <n>        alternating rounds (default 7)
  --requests <n>      requests per configuration and round (default 20000)
  --client-options    also time each cheap @upstash/redis option alone (responseEncoding, enableTelemetry,
                      readYourWrites, automaticDeserialization)
  --json <file>       also write the figures as JSON
  --help              show this text

Run it under \`nice\` on a shared machine, and read the figures as same-run differences.`;

async function main(): Promise<void> {
  const values = readFlags({
    name: "bench:micro",
    help: HELP,
    options: {
      rounds: { type: "string" },
      requests: { type: "string" },
      "client-options": { type: "boolean" },
      json: { type: "string" },
    },
  });
  const rounds = wholeNumber("--rounds", values.rounds, { min: 1, max: 100, fallback: 7 });
  if (!rounds.ok) failUsage("bench:micro", rounds.error);
  const requests = wholeNumber("--requests", values.requests, { min: 200, max: 1_000_000, fallback: 20_000 });
  if (!requests.ok) failUsage("bench:micro", requests.error);
  console.log(
    `load average at start: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(" / ")}`,
  );
  const result = await measureMicro(
    { rounds: rounds.value, requests: requests.value, clientOptions: values["client-options"] ?? false },
    (line) => console.log(line),
  );
  console.log(microTable(result).join("\n"));
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(
      `bench:micro: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
