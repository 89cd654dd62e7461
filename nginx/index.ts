/** @module The local gateway: renders nginx.conf.template for the edge ports and runs NGINX in the foreground. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ManagedProcess, spawnManaged, waitUntil } from "../local/process";
import { ensureSystemDeps } from "../local/system-deps";

const TEMPLATE = fileURLToPath(new URL("./nginx.conf.template", import.meta.url));

/**
 * The config text for a gateway on `port` in front of `edgePorts` (127.0.0.1), writing under `runDir`.
 *
 * @example
 * const conf = await renderNginxConfig({ port: 8080, edgePorts: [9001, 9002, 9003], runDir: "/tmp/erl" });
 */
export async function renderNginxConfig(options: {
  port: number;
  edgePorts: number[];
  runDir: string;
}): Promise<string> {
  const servers = options.edgePorts
    .map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`)
    .join("\n");
  const template = await readFile(TEMPLATE, "utf8");
  return template
    .replaceAll("{{RUN_DIR}}", options.runDir)
    .replaceAll("{{PORT}}", String(options.port))
    .replaceAll("{{UPSTREAM_SERVERS}}", servers);
}

/**
 * Writes the config into `runDir` and starts `nginx -g 'daemon off;'`, resolving once it answers on `port`.
 *
 * @example
 * const nginx = await startNginx({ port: 8080, edgePorts, runDir });
 * await nginx.stop();
 */
export async function startNginx(options: {
  port: number;
  edgePorts: number[];
  runDir: string;
}): Promise<ManagedProcess> {
  const deps = ensureSystemDeps(["nginx"]);
  if (!deps.ok) throw new Error(deps.error);
  await mkdir(options.runDir, { recursive: true });
  const confPath = join(options.runDir, "nginx.conf");
  await writeFile(confPath, await renderNginxConfig(options));
  const args = ["-p", options.runDir, "-c", confPath, "-e", "stderr", "-g", "daemon off;"];
  const nginx = spawnManaged("nginx", deps.paths.nginx as string, args);
  await waitUntil(
    `nginx on port ${options.port}`,
    () => fetch(`http://127.0.0.1:${options.port}/__ready`).then((r) => r.status > 0),
    { timeoutMs: 10_000, process: nginx },
  );
  return nginx;
}
