/** @module Runs the gateway on its own (docker-compose): `--listen 0.0.0.0:8080 --edges edge1:8787,edge2:8787`. */
import { failUsage, readFlags } from "../../support";
import { startNginx } from "./index";

const HELP = `Usage: node dist/local/gateway.js --edges <host:port,...> [--listen 0.0.0.0:8080] [--run-dir /tmp/nginx]
       (from source: node --import tsx local/stack/gateway/cli.ts …)

Renders nginx/nginx.conf.template for the given edge instances and runs NGINX in the foreground.
npm start does this itself; this entry is for docker-compose.yml.`;

async function main(): Promise<void> {
  const flags = readFlags({
    name: "gateway",
    help: HELP,
    options: {
      listen: { type: "string", default: "0.0.0.0:8080" },
      edges: { type: "string" },
      "run-dir": { type: "string", default: "/tmp/edge-rate-limiter-nginx" },
    },
  });
  const edges = (flags.edges ?? "").split(",").filter(Boolean);
  if (edges.length === 0 || edges.some((e) => !/^[\w.-]+:\d+$/.test(e))) {
    failUsage(
      "gateway",
      `--edges: expected host:port[,host:port…], got ${JSON.stringify(flags.edges ?? "")}`,
    );
  }
  const nginx = await startNginx({ listen: flags.listen, edges, runDir: flags["run-dir"] });
  console.log(`nginx listening on ${flags.listen} in front of ${edges.join(", ")}`);
  process.on("SIGTERM", () => void nginx.stop().then(() => process.exit(0)));
  process.on("SIGINT", () => void nginx.stop().then(() => process.exit(0)));
  process.exit(Number(await nginx.exited) || 1);
}

main().catch((error: unknown) => {
  console.error(`gateway: ${(error as Error).message}`);
  process.exit(1);
});
