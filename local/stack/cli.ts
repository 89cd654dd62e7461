/** @module `npm start`: builds the worker, starts the local stack, prints its status, stops it on Ctrl-C. */
import { spawnSync } from "node:child_process";
// Only what reading the flags and claiming the ports needs is imported up front (not the support wing's
// index, nor the stack): a taken port or a bad flag is reported before the rest of the code is even read.
import { failUsage, orFail, PORT_RANGE, policiesFlag, readFlags, wholeNumber } from "../support/flags";
import { claimPorts, onStopRequest } from "../support/lifecycle";
import type { Stack } from "./start";

const HELP = `Usage: npm start -- [options]

Starts the local stack: its own Redis, the Upstash-compatible REST proxy, N workerd instances of the
bundled worker and an NGINX round-robin gateway in front of them. Ctrl-C, SIGTERM or SIGHUP (to this
process or to npm) stops everything; if the launcher itself is killed, every part exits with it. A port
that is taken stops the start before anything runs (exit code 1).

Options:
  --port <n>           NGINX port (default 8080)
  --instances <n>      workerd instances behind NGINX (default 3)
  --policies <file>    policies document (JSON, see docs/configuration.md); default: the built-in one
  --upstream <url>     forward allowed requests here (default: a demo JSON answer)
  --check-token <t>    turn on the check API (POST /v1/check, /v1/buckets) with this bearer token
  --redis-url <url>    use this Redis instead of starting one (e.g. redis://127.0.0.1:6379)
  --redis-cluster      start a local Redis Cluster instead of one Redis: 3 masters with 1 replica
                       each, failover within seconds; the REST proxy routes by hash slot
                       (see docs/cluster.md)
  --proxy-port <n>     REST proxy port (default: a free one, shown in the status table)
  --limiting off       run the same stack with rate limiting turned off (benchmark baseline)
  --demo-port <n>      serve the backoff demo page here (default 8081); its two routes
                       (/demo-api/plain/*, /demo-api/client/*) and its origin are added to the policies
  --no-demo            don't serve the demo page
  --no-build           skip \`npm run build\` (use the existing dist/worker bundle)
  -h, --help           show this help

Ready when GET http://127.0.0.1:<port>/healthz answers 200.`;

function fail(message: string): never {
  failUsage("npm start", message);
}

/** Current role of each cluster node by address (roles change with failovers), or null without a cluster. */
async function clusterRoles(stack: Stack): Promise<Map<string, string> | null> {
  if (!stack.cluster) return null;
  const nodes = await stack.cluster.topology().catch(() => []);
  return new Map(nodes.map((n) => [`127.0.0.1:${n.port}`, n.role]));
}

function printStatus(stack: Stack, roles: Map<string, string> | null): void {
  const rows = stack.status().map((p) => {
    const row = [p.name, p.address, String(p.pid)];
    return roles ? [...row, roles.get(p.address) ?? ""] : row;
  });
  const header = roles ? ["component", "address", "pid", "role"] : ["component", "address", "pid"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));
  console.log(`\nGateway ready: ${stack.url}`);
  if (stack.demoUrl)
    console.log(`Demo page:     ${stack.demoUrl}  (bursts with plain fetch vs the backoff client)`);
  console.log(`Try:  curl -i ${stack.url}/hello`);
  console.log(
    `      for i in $(seq 12); do curl -s -o /dev/null -w '%{http_code} ' ${stack.url}/hello; done; echo`,
  );
  console.log("Ctrl-C stops everything.\n");
}

/** The stack's settings, as the flags gave them: validated, defaults filled in. */
interface StartFlags {
  port: number;
  proxyPort: number;
  instances: number;
  /** `undefined` with --no-demo. */
  demoPort: number | undefined;
  limiting: "on" | "off";
  upstream: string | undefined;
  redisUrl: string | undefined;
  redisCluster: boolean;
  /** The policies document's text, already validated; `undefined` for the worker's default. */
  policies: string | undefined;
  checkToken: string | undefined;
  /** False with --no-build. */
  build: boolean;
}

/** Reads and checks every flag before anything runs, so a typo costs no build and no part. */
function readStartFlags(): StartFlags {
  const values = readFlags({
    name: "npm start",
    help: HELP,
    options: {
      port: { type: "string" },
      instances: { type: "string" },
      policies: { type: "string" },
      upstream: { type: "string" },
      "check-token": { type: "string" },
      "redis-url": { type: "string" },
      "redis-cluster": { type: "boolean" },
      "proxy-port": { type: "string" },
      limiting: { type: "string" },
      "demo-port": { type: "string" },
      "no-demo": { type: "boolean" },
      "no-build": { type: "boolean" },
    },
  });
  const str = (k: keyof typeof values) => values[k] as string | undefined;
  const port = orFail("npm start", wholeNumber("--port", str("port"), { ...PORT_RANGE, fallback: 8080 }));
  const proxyPort = orFail(
    "npm start",
    wholeNumber("--proxy-port", str("proxy-port"), { ...PORT_RANGE, fallback: 0 }),
  );
  const instances = orFail(
    "npm start",
    wholeNumber("--instances", str("instances"), { min: 1, max: 16, fallback: 3 }),
  );
  const demoPort = values["no-demo"]
    ? undefined
    : orFail("npm start", wholeNumber("--demo-port", str("demo-port"), { ...PORT_RANGE, fallback: 8081 }));
  const limiting = limitingFlag(str("limiting"));
  const upstream = str("upstream");
  const redisUrl = str("redis-url");
  const redisCluster = values["redis-cluster"] === true;
  checkTargets(upstream, redisUrl, redisCluster);
  const policies = orFail("npm start", policiesFlag(str("policies")));
  const checkToken = str("check-token");
  const build = !values["no-build"];
  return {
    port,
    proxyPort,
    instances,
    demoPort,
    limiting,
    upstream,
    redisUrl,
    redisCluster,
    policies,
    checkToken,
    build,
  };
}

function limitingFlag(value: string | undefined): "on" | "off" {
  const limiting = value ?? "on";
  if (limiting !== "on" && limiting !== "off") fail(`--limiting: expected "on" or "off", got "${limiting}"`);
  return limiting;
}

/** The upstream and Redis flags, checked before the build and any part, so a typo there costs nothing. */
function checkTargets(
  upstream: string | undefined,
  redisUrl: string | undefined,
  redisCluster: boolean,
): void {
  if (upstream !== undefined && !/^https?:\/\/\S+$/.test(upstream))
    fail(`--upstream: expected an http(s) URL, got "${upstream}"`);
  if (redisUrl !== undefined && !/^redis:\/\/\S+$/.test(redisUrl))
    fail(`--redis-url: expected redis://host:port, got "${redisUrl}"`);
  if (redisCluster && redisUrl !== undefined) fail("--redis-cluster and --redis-url exclude each other");
}

/** Before the build and before any part: a taken port is the user's to free, and no restart cures it. */
async function claimOrExit(flags: StartFlags): Promise<void> {
  const free = await claimPorts([
    { port: flags.port, flag: "--port" },
    { port: flags.proxyPort, flag: "--proxy-port" },
    { port: flags.demoPort ?? 0, flag: "--demo-port" },
  ]);
  if (!free.ok) {
    console.error(`npm start: ${free.error}`);
    process.exit(1);
  }
}

/** The system programs and the worker bundle, so a missing one is named before any part starts. */
async function prepare(flags: StartFlags): Promise<void> {
  const { ensureSystemDeps } = await import("../support/system-deps");
  const deps = ensureSystemDeps(flags.redisUrl ? ["nginx"] : ["redis", "nginx"]);
  if (!deps.ok) fail(deps.error);
  if (flags.build) {
    console.log("Building the worker (npm run build)…");
    const build = spawnSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
    if (build.status !== 0) fail("npm run build failed (see above)");
  }
}

/** Starts the stack with a stop handler in place from the first part on, then prints its status. */
async function launch(flags: StartFlags): Promise<void> {
  const redisPart = flags.redisCluster ? "a 3-master/3-replica Redis Cluster" : "Redis";
  console.log(`Starting ${redisPart}, the REST proxy, ${flags.instances} workerd instance(s) and NGINX…`);
  let stack: Stack | undefined;
  onStopRequest((why) => {
    console.log(`\n${why}: stopping the stack…`);
    // Still starting: exiting is enough, every part started so far gets SIGTERM as this process ends.
    if (!stack) process.exit(0);
    void stack.stop().then(() => {
      console.log("Stopped.");
      process.exit(0);
    });
  });
  const { startStack } = await import("./start");
  stack = await startStack({
    port: flags.port,
    proxyPort: flags.proxyPort,
    instances: flags.instances,
    policies: flags.policies,
    upstream: flags.upstream,
    checkToken: flags.checkToken,
    redisUrl: flags.redisUrl,
    redisCluster: flags.redisCluster,
    limitingOff: flags.limiting === "off",
    demoPort: flags.demoPort,
    log: (line) => console.log(line),
    onFatal: () => process.exit(1),
  }).catch((error: Error) => {
    console.error(`npm start: could not start the stack: ${error.message}`);
    process.exit(1);
  });
  printStatus(stack, await clusterRoles(stack));
}

/** Flags, ports, prerequisites, then the stack: each step fails before the next costs anything. */
async function main(): Promise<void> {
  const flags = readStartFlags();
  await claimOrExit(flags);
  await prepare(flags);
  await launch(flags);
}

void main();
