/** @module Command-line arguments of the REST proxy: flags, environment fallbacks and the --help text. */
import { parseArgs } from "node:util";
import type { Result } from "./commands";
import {
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_STREAMS,
  DEFAULT_PORT,
  DEFAULT_REDIS_CONNECTIONS,
  DEFAULT_TIMEOUT_MS,
  type ProxyOptions,
} from "./options";

export const HELP = `Usage: npm run proxy -- [options]

Upstash-compatible Redis REST proxy: @upstash/redis talks to it exactly as it talks to Upstash.

Options (environment variable in brackets):
  --port <n>              port to listen on, 0 = any free port       [PROXY_PORT]  default ${DEFAULT_PORT}
  --host <addr>           interface to bind                          [PROXY_HOST]  default ${DEFAULT_HOST}
  --redis <url>           Redis to forward to                        [REDIS_URL]   default redis://127.0.0.1:6379
  --redis-cluster <seeds> a Redis Cluster instead: comma-separated seed nodes    [REDIS_CLUSTER]
                          (redis://host:port or host:port; ioredis finds the other nodes). Each
                          command goes to the master of its key's slot; see docs/cluster.md
  --token <t>             bearer token clients must send             [PROXY_TOKEN] required unless --insecure
  --read-only-token <t>   a second token that may run only commands Redis flags readonly  [PROXY_READ_ONLY_TOKEN]
                          (GET, MGET, SCAN, EVALSHA_RO, …) and subscribe; needs --token
  --insecure              run without a token (only on a loopback --host)
  --allow-all-commands    forward FLUSHALL, CONFIG, blocking pops and the other refused commands
  --timeout-ms <n>        longest wait for Redis per request, then a JSON error   default ${DEFAULT_TIMEOUT_MS}
  --max-body-bytes <n>    largest request body, larger ones get 413               default ${DEFAULT_MAX_BODY_BYTES}
  --redis-connections <n> shared auto-pipelined Redis connections               default ${DEFAULT_REDIS_CONNECTIONS}
  --max-streams <n>       concurrent SSE subscriptions (/subscribe, /psubscribe), each holding
                          a Redis connection; more get 429                      default ${DEFAULT_MAX_STREAMS}
  --strip-script-flags    compatibility for stock Redis 7.0: remove script shebang flags it does not know
                          (e.g. "#!lua flags=allow-key-locking" from @upstash/ratelimit 2.x) before
                          EVAL / SCRIPT LOAD, and map EVALSHA of the original script's SHA1 to the
                          rewritten script's SHA1. Kept flags: no-writes, allow-oom, allow-stale,
                          no-cluster, allow-cross-slot-keys.
  --upstash-semantics     emulate Upstash's script rules (on in the local stack and the tests): a script
                          flagged allow-key-locking that touches a key not in KEYS, or runs a
                          database-wide command (FLUSHDB, KEYS, SCAN, …), fails with an error; scripts
                          without the flag (or inside /multi-exec) would take Upstash's global lock: they
                          are counted in GET /metrics (proxy_script_calls_total{lock="global"|"key"})
                          and named once in the log. EVALSHA of a script this proxy has not seen answers
                          NOSCRIPT (the client sends it with EVAL). Implies --strip-script-flags
  --refuse-script-time    with --upstash-semantics: TIME fails inside scripts, as on a store that forbids
                          clock reads there (tests the limiter's fallback to the caller's clock)
  --help                  show this text

Example:
  npm run proxy -- --port 8079 --redis redis://127.0.0.1:6379 --token "$(openssl rand -hex 24)"
`;

function integer(value: string | undefined, flag: string): Result<number | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if (!/^\d+$/.test(value))
    return { ok: false, error: `${flag} must be a non-negative integer (got "${value}")` };
  return { ok: true, value: Number(value) };
}

/**
 * Turns argv and the environment into proxy options, or says what is wrong with them.
 *
 * @example
 * parseCli(["--port", "0", "--token", "t"], {}); // { ok: true, value: { help: false, options: { … } } }
 */
export function parseCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Result<{ help: true } | { help: false; options: ProxyOptions }> {
  let values: ReturnType<typeof parseFlags>["values"];
  try {
    values = parseFlags(argv).values;
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { ok: true, value: { help: true } };
  // An empty variable (PROXY_TOKEN= in a compose file) means "not set", not "the empty string".
  const fromEnv = (name: string) => env[name] || undefined;
  if (values.redis !== undefined && values["redis-cluster"] !== undefined) {
    return { ok: false, error: "--redis and --redis-cluster exclude each other: pass one of them" };
  }
  const clusterSeeds =
    values["redis-cluster"] ?? (values.redis === undefined ? fromEnv("REDIS_CLUSTER") : undefined);
  if (clusterSeeds !== undefined && clusterSeeds.trim() === "") {
    return { ok: false, error: "--redis-cluster needs seed nodes, e.g. 127.0.0.1:7000,127.0.0.1:7001" };
  }
  const port = integer(values.port ?? fromEnv("PROXY_PORT"), "--port");
  const timeoutMs = integer(values["timeout-ms"], "--timeout-ms");
  const maxBodyBytes = integer(values["max-body-bytes"], "--max-body-bytes");
  const redisConnections = integer(values["redis-connections"], "--redis-connections");
  const maxStreams = integer(values["max-streams"], "--max-streams");
  for (const parsed of [port, timeoutMs, maxBodyBytes, redisConnections, maxStreams]) {
    if (!parsed.ok) return parsed;
  }
  return {
    ok: true,
    value: {
      help: false,
      options: {
        redisUrl: values.redis ?? fromEnv("REDIS_URL") ?? "redis://127.0.0.1:6379",
        redisCluster: clusterSeeds?.split(",").map((seed) => seed.trim()),
        host: values.host ?? fromEnv("PROXY_HOST") ?? DEFAULT_HOST,
        port: port.ok ? port.value : undefined,
        token: values.token ?? fromEnv("PROXY_TOKEN"),
        readOnlyToken: values["read-only-token"] ?? fromEnv("PROXY_READ_ONLY_TOKEN"),
        insecure: values.insecure ?? false,
        allowAllCommands: values["allow-all-commands"] ?? false,
        timeoutMs: timeoutMs.ok ? timeoutMs.value : undefined,
        maxBodyBytes: maxBodyBytes.ok ? maxBodyBytes.value : undefined,
        redisConnections: redisConnections.ok ? redisConnections.value : undefined,
        maxStreams: maxStreams.ok ? maxStreams.value : undefined,
        stripScriptFlags: values["strip-script-flags"] ?? false,
        upstashSemantics: values["upstash-semantics"] ?? false,
        refuseScriptTime: values["refuse-script-time"] ?? false,
      },
    },
  };
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      redis: { type: "string" },
      "redis-cluster": { type: "string" },
      token: { type: "string" },
      "read-only-token": { type: "string" },
      insecure: { type: "boolean" },
      "allow-all-commands": { type: "boolean" },
      "timeout-ms": { type: "string" },
      "max-body-bytes": { type: "string" },
      "redis-connections": { type: "string" },
      "max-streams": { type: "string" },
      "strip-script-flags": { type: "boolean" },
      "upstash-semantics": { type: "boolean" },
      "refuse-script-time": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
