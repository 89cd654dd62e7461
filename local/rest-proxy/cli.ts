/** @module `npm run proxy`: the Upstash-compatible REST proxy from the command line. */
import { HELP, parseCli } from "./cli-args";
import { redactRedisUrl } from "./options";
import { startProxy } from "./server";

async function main(): Promise<void> {
  const parsed = parseCli(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    console.error(`rest-proxy: ${parsed.error}\nRun with --help for the options.`);
    process.exit(2);
  }
  if (parsed.value.help) {
    process.stdout.write(HELP);
    return;
  }
  const { options } = parsed.value;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  try {
    proxy = await startProxy(options);
  } catch (error) {
    console.error(`rest-proxy: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  const auth = options.token ? "token required" : "NO TOKEN (insecure, loopback only)";
  const target = options.redisCluster?.length
    ? `Redis Cluster ${options.redisCluster.map(redactRedisUrl).join(",")}`
    : redactRedisUrl(options.redisUrl ?? "");
  console.log(`rest-proxy listening on ${proxy.url} -> ${target} (${auth})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`rest-proxy: ${signal}, finishing in-flight requests`);
    proxy.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`rest-proxy: shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

await main();
