/** @module `npx tsx local/demo/cli.ts --api <url> [--port 8090]`: the demo page on its own, for a running stack. */
import { parseArgs } from "node:util";
import { startDemoServer } from "./index";

const HELP = `Usage: npx tsx local/demo/cli.ts --api http://127.0.0.1:8080 [--port 8090] [--host 127.0.0.1]

Serves the backoff demo page. The page calls the API at --api from another origin, so the API's policies
document must list this page's origin (e.g. "cors": { "origins": ["http://127.0.0.1:8090"] }) and route
/demo-api/plain/* and /demo-api/client/* (ideally to two policies, so the two bursts don't share a bucket).`;

async function main(): Promise<number> {
  let values: { api?: string; port?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        api: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.api) {
    console.error(`demo: --api is required\n\n${HELP}`);
    return 2;
  }
  const port = values.port === undefined ? 8090 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`demo: --port ${values.port} is not a port number`);
    return 2;
  }
  const demo = await startDemoServer({ apiUrl: values.api, port, host: values.host });
  console.log(`demo: ${demo.url}/  (API ${values.api})`);
  const stop = () => void demo.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return -1;
}

const code = await main();
if (code >= 0) process.exit(code);
