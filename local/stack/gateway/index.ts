/** @module The local gateway: renders nginx/nginx.conf.template for the edge ports and runs NGINX in the foreground. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureSystemDeps, type ManagedProcess, repoPath, spawnManaged, waitUntil } from "../../support";

// The configuration lives in nginx/ at the top of the repo: only the code that renders and runs it is here.
const TEMPLATE = repoPath("nginx/nginx.conf.template");

export interface GatewayOptions {
  /** `host:port` NGINX listens on. */
  listen: string;
  /** `host:port` of each edge instance. */
  edges: string[];
  /** Where the rendered config, pid file, temp files and access log go. */
  runDir: string;
}

/**
 * The config text for a gateway on `listen` in front of `edges`.
 *
 * @example
 * const conf = await renderNginxConfig({ listen: "127.0.0.1:8080", edges: ["127.0.0.1:9001"], runDir: "/tmp/erl" });
 */
export async function renderNginxConfig(options: GatewayOptions): Promise<string> {
  const servers = options.edges.map((edge) => `    server ${edge} max_fails=1 fail_timeout=2s;`).join("\n");
  const template = await readFile(TEMPLATE, "utf8");
  return template
    .replaceAll("{{RUN_DIR}}", options.runDir)
    .replaceAll("{{LISTEN}}", options.listen)
    .replaceAll("{{UPSTREAM_SERVERS}}", servers);
}

/**
 * Writes the config into `runDir` and starts `nginx -g 'daemon off;'`, resolving once it answers on `listen`.
 *
 * @example
 * const nginx = await startNginx({ listen: "127.0.0.1:8080", edges: ["127.0.0.1:9001"], runDir });
 * await nginx.stop();
 */
export async function startNginx(options: GatewayOptions): Promise<ManagedProcess> {
  const deps = ensureSystemDeps(["nginx"]);
  if (!deps.ok) throw new Error(deps.error);
  await mkdir(options.runDir, { recursive: true });
  const confPath = join(options.runDir, "nginx.conf");
  await writeFile(confPath, await renderNginxConfig(options));
  const args = ["-p", options.runDir, "-c", confPath, "-e", "stderr", "-g", "daemon off;"];
  const nginx = spawnManaged("nginx", deps.value.nginx as string, args);
  const probe = options.listen.replace(/^0\.0\.0\.0:/, "127.0.0.1:");
  await waitUntil(
    `nginx on ${options.listen}`,
    () => fetch(`http://${probe}/__ready`).then((r) => r.status > 0),
    { timeoutMs: 10_000, process: nginx },
  );
  return nginx;
}
