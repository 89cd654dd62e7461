/** @module Runs the bundled worker (dist/worker) in workerd through Miniflare, on a direct socket of its own. */
import { existsSync } from "node:fs";
import { Miniflare } from "miniflare";
import type { Env } from "../../../workers/config";
import { freePort, repoPath } from "../../support";

/** The worker bundle `npm run build` writes (wrangler's own build of workers/worker.ts). */
export const WORKER_BUNDLE = repoPath("dist/worker/worker.js");

/** Must match wrangler.toml's `compatibility_date`, so local and deployed runtimes behave alike. */
const COMPATIBILITY_DATE = "2026-04-01";

export interface EdgeInstance {
  /** The instance's own workerd socket: what NGINX and tests talk to. */
  url: string;
  port: number;
  miniflare: Miniflare;
  stop(): Promise<void>;
}

/**
 * Starts one isolated worker instance. Requests go to workerd's own socket (`unsafeDirectSockets`): ~3×
 * Miniflare's default entry, and it leaves `CF-Connecting-IP` to the gateway in front (NGINX locally).
 *
 * @example
 * const edge = await startEdge({ bindings: { UPSTASH_REDIS_REST_URL: proxy.url, UPSTASH_REDIS_REST_TOKEN: token } });
 * await fetch(`${edge.url}/healthz`);
 * await edge.stop();
 */
export async function startEdge(options: {
  bindings: Env;
  port?: number;
  /** Interface to listen on (default 127.0.0.1; containers need 0.0.0.0). */
  host?: string;
  scriptPath?: string;
}): Promise<EdgeInstance> {
  const scriptPath = options.scriptPath ?? WORKER_BUNDLE;
  if (!existsSync(scriptPath))
    throw new Error(`worker bundle not found at ${scriptPath}: run \`npm run build\``);
  const port = options.port ?? (await freePort());
  const bindings = Object.fromEntries(Object.entries(options.bindings).filter(([, v]) => v !== undefined));
  const miniflare = new Miniflare({
    scriptPath,
    modules: true,
    modulesRules: [{ type: "Text", include: ["**/*.lua"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    unsafeDirectSockets: [{ host: options.host ?? "127.0.0.1", port }],
  });
  await miniflare.ready;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    miniflare,
    stop: () => miniflare.dispose(),
  };
}
