/** @module `npm run dev`: the Workers developer's loop, wrangler dev with a private Redis and REST proxy; Ctrl-C stops all. */
import {
  claimPorts,
  ensureSystemDeps,
  failUsage,
  onStopRequest,
  orFail,
  PORT_RANGE,
  policiesFlag,
  readFlags,
  wholeNumber,
} from "../../support";
import { type DevSession, startDev } from "./index";

const HELP = `Usage: npm run dev -- [options]

The Workers developer's loop: \`wrangler dev\` on workers/worker.ts (wrangler.toml) with a private Redis
and the Upstash-compatible REST proxy in front of it. The proxy's URL and token, the policies and the
other options reach the worker as variables in a private env file (never a .dev.vars in the repo).
wrangler watches the source: edit workers/ or lua/ and the worker reloads. Ctrl-C, SIGTERM or SIGHUP
(to this process or to npm) stops everything; if this process is killed, every part exits with it. A
taken --port stops the start before anything runs (exit code 1).

Options:
  --port <n>           wrangler dev's port (default 8787; 0 = a free port)
  --policies <file>    policies document (JSON, see docs/configuration.md); default: the built-in one
  --upstream <url>     forward allowed requests here (default: a demo JSON answer)
  --check-token <t>    turn on the check API (POST /v1/check, /v1/buckets) with this bearer token
  --redis-url <url>    use this Redis instead of starting one (e.g. redis://127.0.0.1:6379)
  -h, --help           show this help

Ready when GET http://127.0.0.1:<port>/healthz answers 200 (the line "Dev ready: <url>" says so).`;

const NAME = "npm run dev";

async function main(): Promise<void> {
  const flags = readFlags({
    name: NAME,
    help: HELP,
    options: {
      port: { type: "string" },
      policies: { type: "string" },
      upstream: { type: "string" },
      "check-token": { type: "string" },
      "redis-url": { type: "string" },
    },
  });
  const port = orFail(NAME, wholeNumber("--port", flags.port, { ...PORT_RANGE, fallback: 8787 }));
  if (flags.upstream !== undefined && !/^https?:\/\/\S+$/.test(flags.upstream))
    failUsage(NAME, `--upstream: expected an http(s) URL, got "${flags.upstream}"`);
  const redisUrl = flags["redis-url"];
  if (redisUrl !== undefined && !/^redis:\/\/\S+$/.test(redisUrl))
    failUsage(NAME, `--redis-url: expected redis://host:port, got "${redisUrl}"`);
  const policies = orFail(NAME, policiesFlag(flags.policies));
  const free = await claimPorts([{ port, flag: "--port" }]);
  if (!free.ok) {
    console.error(`${NAME}: ${free.error}`);
    process.exit(1);
  }
  if (!redisUrl) {
    const deps = ensureSystemDeps(["redis"]);
    if (!deps.ok) failUsage(NAME, deps.error);
  }

  let dev: DevSession | undefined;
  let stopping = false;
  const shutdown = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping wrangler dev, the proxy and Redis…`);
    // Still starting: exiting is enough, every part started so far gets SIGTERM as this process ends.
    await dev?.stop();
    process.exit(code);
  };
  onStopRequest((why) => void shutdown(why, 0));

  console.log(`Starting ${redisUrl ? "" : "Redis, "}the REST proxy and wrangler dev…`);
  dev = await startDev({
    port,
    policies,
    upstream: flags.upstream,
    checkToken: flags["check-token"],
    redisUrl,
    echo: (line) => console.log(`[wrangler] ${line}`),
  }).catch((error: Error) => {
    console.error(`${NAME}: could not start: ${error.message}`);
    process.exit(1);
  });
  console.log(`\nDev ready: ${dev.url}  (REST proxy ${dev.proxy.url}, Redis ${dev.redisUrl})`);
  console.log(`Try:  curl -i ${dev.url}/hello`);
  console.log("Edit workers/ or lua/: wrangler reloads the worker. Ctrl-C stops everything.\n");
  void dev.wrangler.exited.then((code) => shutdown(`wrangler dev exited (${code})`, 1));
  void dev.proxy.process.exited.then((code) => shutdown(`the REST proxy exited (${code})`, 1));
}

void main();
