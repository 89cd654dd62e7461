/** @module One edge instance as a process: the bundled worker in workerd, exiting if workerd dies (so it gets restarted). */
import { connect } from "node:net";
import type { Env } from "../../../workers/config";
import { failUsage, orFail, readFlags, wholeNumber } from "../../support";
import { startEdge } from "./index";

const HELP = `Usage: node dist/local/edge.js --port <port> [--host 127.0.0.1] [--script dist/worker/worker.js]

Runs one instance of the bundled worker (npm run build) in workerd on <host>:<port>.
Bindings come from the environment: POLICIES, UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN,
CHECK_API_TOKEN, UPSTREAM_URL, INSTANCE_ID, RATE_LIMIT_DISABLED. The stack launcher (npm start) runs
several of these; the process exits when workerd stops answering, so a supervisor can restart it.`;

const BINDINGS: (keyof Env)[] = [
  "POLICIES",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "CHECK_API_TOKEN",
  "UPSTREAM_URL",
  "INSTANCE_ID",
  "RATE_LIMIT_DISABLED",
];

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function main(): Promise<void> {
  const values = readFlags({
    name: "edge",
    help: HELP,
    options: { port: { type: "string" }, host: { type: "string" }, script: { type: "string" } },
  });
  if (values.port === undefined) failUsage("edge", "--port is required");
  const port = orFail("edge", wholeNumber("--port", values.port, { min: 1, max: 65535, fallback: 0 }));
  const bindings: Env = Object.fromEntries(
    BINDINGS.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
  );
  const host = values.host ?? "127.0.0.1";
  const edge = await startEdge({
    bindings,
    port,
    host,
    ...(values.script ? { scriptPath: values.script } : {}),
  });
  // edge.url is where a local client connects (loopback); say what the socket is bound to.
  console.log(`edge ${bindings.INSTANCE_ID ?? ""} listening on http://${host}:${edge.port}`);

  const shutdown = async () => {
    await edge.stop();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  // workerd is Miniflare's child: if it dies, this process would linger serving nothing. Two missed
  // probes in a row means it is gone; exiting lets the launcher restart the whole instance.
  let missed = 0;
  setInterval(async () => {
    missed = (await portOpen(port)) ? 0 : missed + 1;
    if (missed >= 2) {
      console.error(`edge ${bindings.INSTANCE_ID ?? ""}: workerd stopped answering on port ${port}; exiting`);
      // Disposing may wait on the dead runtime; don't let that keep a dead instance around.
      await Promise.race([edge.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
      process.exit(1);
    }
  }, 250).unref();
}

main().catch((error: unknown) => {
  console.error(`edge: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
