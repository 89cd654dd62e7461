/** @module `npx tsx local/tools/demo/cli.ts --api <url> [--port 8090]`: the demo page on its own, for a running stack. */
import { failUsage, orFail, PORT_RANGE, readFlags, wholeNumber } from "../../support";
import { startDemoServer } from "./index";

const HELP = `Usage: npx tsx local/tools/demo/cli.ts --api http://127.0.0.1:8080 [--port 8090] [--host 127.0.0.1]

Serves the backoff demo page. The page calls the API at --api from another origin, so the API's policies
document must list this page's origin (e.g. "cors": { "origins": ["http://127.0.0.1:8090"] }) and route
/demo-api/plain/* and /demo-api/client/* (ideally to two policies, so the two bursts don't share a bucket).
It also starts the ecosystem's rate-limited servers (express-rate-limit, hono-rate-limiter, GitHub-style,
header-less) on free loopback ports for the page's "server and dialect" selector.`;

async function main(): Promise<void> {
  const values = readFlags({
    name: "demo",
    help: HELP,
    options: { api: { type: "string" }, port: { type: "string" }, host: { type: "string" } },
  });
  if (!values.api) failUsage("demo", "--api is required");
  const port = orFail("demo", wholeNumber("--port", values.port, { ...PORT_RANGE, fallback: 8090 }));
  const demo = await startDemoServer({ apiUrl: values.api, port, host: values.host });
  console.log(`demo: ${demo.url}/  (API ${values.api})`);
  const stop = () => void demo.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

await main();
