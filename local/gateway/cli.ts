/** @module Runs the gateway on its own (docker-compose): `--listen 0.0.0.0:8080 --edges edge1:8787,edge2:8787`. */
import { parseArgs } from "node:util";
import { startNginx } from "./index";

const HELP = `Usage: node --import tsx nginx/cli.ts --edges <host:port,...> [--listen 0.0.0.0:8080] [--run-dir /tmp/nginx]

Renders nginx/nginx.conf.template for the given edge instances and runs NGINX in the foreground.
npm start does this itself; this entry is for docker-compose.yml.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: "string", default: "0.0.0.0:8080" },
      edges: { type: "string" },
      "run-dir": { type: "string", default: "/tmp/edge-rate-limiter-nginx" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return void console.log(HELP);
  const edges = (values.edges ?? "").split(",").filter(Boolean);
  if (edges.length === 0 || edges.some((e) => !/^[\w.-]+:\d+$/.test(e))) {
    console.error(
      `nginx: --edges: expected host:port[,host:port…], got ${JSON.stringify(values.edges ?? "")}\n\n${HELP}`,
    );
    process.exit(2);
  }
  const nginx = await startNginx({ listen: values.listen, edges, runDir: values["run-dir"] });
  console.log(`nginx listening on ${values.listen} in front of ${edges.join(", ")}`);
  process.on("SIGTERM", () => void nginx.stop().then(() => process.exit(0)));
  process.on("SIGINT", () => void nginx.stop().then(() => process.exit(0)));
  process.exit(Number(await nginx.exited) || 1);
}

main().catch((error: unknown) => {
  console.error(`nginx: ${(error as Error).message}`);
  process.exit(1);
});
