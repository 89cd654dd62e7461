/** @module `npx tsx test/client/servers/table.ts [--client <module>] [--only <kind,…>]`: prints the issue-21 table (server 429s, calls that ended 200, time). */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type CreateBackoffFetch,
  ecosystemTarget,
  markdownTable,
  measure,
  ourTarget,
  type Row,
  TARGET_ENTRIES,
} from "./index";

const HELP = `Usage: npx tsx test/client/servers/table.ts [--client client/index.ts] [--only express-draft-6,ours]

Runs a 60-request burst at 10 requests per 2 s against each server, once with plain fetch and once with
createBackoffFetch() at its defaults, one server after the other, and prints a markdown table of the 429s
each server counted, the calls that ended 200 and the client's time. --client loads createBackoffFetch
from another module (an older checkout of client/, for a before/after comparison). --only picks servers
by kind (see local/tools/ecosystem) or "ours" for this project's own stack.`;

const { values } = parseArgs({
  options: { client: { type: "string" }, only: { type: "string" }, help: { type: "boolean" } },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const modulePath = values.client ? pathToFileURL(resolve(values.client)).href : "../../../client/index.ts";
const { createBackoffFetch } = (await import(modulePath)) as { createBackoffFetch: CreateBackoffFetch };
const only = values.only ? new Set(values.only.split(",")) : null;

const rows: Row[] = [];
for (const entry of TARGET_ENTRIES) {
  if (only && !only.has(entry.kind)) continue;
  const target = await ecosystemTarget(entry);
  try {
    rows.push(await measure(target, createBackoffFetch));
  } finally {
    await target.stop();
  }
  console.error(`done: ${entry.kind}`);
}
if (!only || only.has("ours")) {
  const target = await ourTarget();
  try {
    rows.push(await measure(target, createBackoffFetch));
  } finally {
    await target.stop();
  }
}
console.log(markdownTable(rows));
