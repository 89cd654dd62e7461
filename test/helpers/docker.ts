/** @module What the compose suite needs from the host (docker CLI, engine, Compose v2, base images, Ryuk), each checked with a reason to print when it is missing. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { repoPath } from "../../local/support";

/** testcontainers' cleanup container (its `REAPER_IMAGE`, unless `RYUK_CONTAINER_IMAGE` overrides it). */
const RYUK_IMAGE = process.env.RYUK_CONTAINER_IMAGE ?? "testcontainers/ryuk:0.14.0";

export interface DockerResult {
  ok: boolean;
  stdout: string;
  /** What went wrong, on one line: stderr's first line, the spawn error, or the exit status. */
  why: string;
}

/**
 * Runs the docker CLI synchronously (the suite decides whether to skip before it is collected).
 *
 * @example
 * docker(["info", "--format", "{{.ServerVersion}}"]).stdout; // "20.10.24+dfsg1"
 */
export function docker(args: string[], timeoutMs = 30_000): DockerResult {
  const r = spawnSync("docker", args, { cwd: repoPath(), timeout: timeoutMs, encoding: "utf8" });
  const firstLine = (r.stderr ?? "").trim().split("\n")[0] ?? "";
  const why = r.error
    ? r.error.message
    : firstLine || (r.signal ? `killed by ${r.signal} after ${timeoutMs} ms` : `exit ${r.status}`);
  return { ok: r.status === 0, stdout: (r.stdout ?? "").trim(), why };
}

/** Present in the engine, or pulled now (a registry that can't be reached answers in seconds). */
function imageAvailable(image: string, pullTimeoutMs: number): DockerResult {
  const local = docker(["image", "inspect", "--format", "{{.Id}}", image]);
  return local.ok ? local : docker(["pull", "--quiet", image], pullTimeoutMs);
}

/**
 * The images the stack starts from: every `FROM` of the Dockerfile that is not one of its own stages, and
 * every compose service's `image:` that the compose file does not build itself.
 *
 * @example
 * baseImages(); // ["node:20-bookworm-slim", "redis:7-alpine"]
 */
export function baseImages(): string[] {
  const stages = new Set<string>();
  const images = new Set<string>();
  for (const [, image, stage] of readFileSync(repoPath("Dockerfile"), "utf8").matchAll(
    /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/gim,
  )) {
    if (image && !stages.has(image)) images.add(image);
    if (stage) stages.add(stage);
  }
  const config = docker(["compose", "config", "--format", "json"]);
  if (!config.ok) throw new Error(`docker compose config: ${config.why}`);
  const services = JSON.parse(config.stdout).services as Record<string, { image?: string; build?: unknown }>;
  const built = new Set(Object.values(services).flatMap((s) => (s.build && s.image ? [s.image] : [])));
  for (const s of Object.values(services)) if (s.image && !built.has(s.image)) images.add(s.image);
  return [...images];
}

/**
 * Why the compose suite can't run on this host, or `null` when it can: checked in the order a user would
 * fix them, the first missing one is the reason.
 *
 * @example
 * const reason = composeSkipReason();
 * if (reason) console.log(`compose suite skipped: ${reason}`);
 */
export function composeSkipReason(): string | null {
  const cli = docker(["version", "--format", "{{.Client.Version}}"], 10_000);
  if (cli.why.includes("ENOENT")) return "no `docker` command on PATH";
  const engine = docker(["info", "--format", "{{.ServerVersion}}"], 15_000);
  if (!engine.ok) return `no Docker engine answers (\`docker info\`: ${engine.why})`;
  const compose = docker(["compose", "version", "--short"], 10_000);
  if (!compose.ok || !/^v?2\./.test(compose.stdout)) {
    return `Compose v2 is missing (\`docker compose version\`: ${compose.ok ? compose.stdout : compose.why}); testcontainers drives the \`docker compose\` plugin, Compose v1 (\`docker-compose\`) is not enough`;
  }
  for (const image of baseImages()) {
    const found = imageAvailable(image, 180_000);
    if (!found.ok) {
      return `base image ${image} is neither in the engine nor pullable (${found.why}); without registry access, \`.ci/docker-engine start\` builds local stand-ins`;
    }
  }
  return null;
}

/**
 * Whether testcontainers can start Ryuk, its cleanup container. Where it can't be pulled, the suite turns
 * it off (`TESTCONTAINERS_RYUK_DISABLED`) and removes what it started itself.
 *
 * @example
 * if (!ryukAvailable()) process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
 */
export function ryukAvailable(): { ok: boolean; image: string; why: string } {
  // Short: a missing Ryuk costs only self-cleanup, a registry that drops packets must not cost minutes.
  const found = imageAvailable(RYUK_IMAGE, 30_000);
  return { ok: found.ok, image: RYUK_IMAGE, why: found.why };
}

/**
 * What a compose project holds in the engine: its containers and networks (by compose's labels) and its
 * volumes, labelled or mounted by its containers (an image's `VOLUME` makes anonymous ones, unlabelled).
 *
 * @example
 * projectResources("erl-compose-123"); // { containers: [], networks: [], volumes: [] } once it is down
 */
export function projectResources(project: string): {
  containers: string[];
  networks: string[];
  volumes: string[];
} {
  const filter = `label=com.docker.compose.project=${project}`;
  const lines = (args: string[]) => {
    const r = docker(args);
    if (!r.ok) throw new Error(`docker ${args.join(" ")}: ${r.why}`);
    return r.stdout.split(/\s+/).filter(Boolean);
  };
  const containers = lines(["ps", "--all", "--quiet", "--filter", filter]);
  const mounted = containers.length
    ? lines(["inspect", "--format", "{{range .Mounts}}{{if .Name}}{{.Name}} {{end}}{{end}}", ...containers])
    : [];
  const labelled = lines(["volume", "ls", "--quiet", "--filter", filter]);
  return {
    containers,
    networks: lines(["network", "ls", "--quiet", "--filter", filter]),
    volumes: [...new Set([...labelled, ...mounted])],
  };
}

/**
 * Which of `volumes` still exist.
 *
 * @example
 * existingVolumes(before.volumes); // [] after `docker compose down`
 */
export function existingVolumes(volumes: string[]): string[] {
  return volumes.filter((v) => docker(["volume", "inspect", v]).ok);
}

/**
 * Removes the stacks earlier runs of the suite left behind (their test process is gone: killed, or run
 * without Ryuk), so they hold no ports, CPU or names. Projects are named `<prefix><pid>`.
 *
 * @example
 * removeAbandonedProjects("erl-compose-");
 */
export function removeAbandonedProjects(prefix: string): string[] {
  const projects = new Set<string>();
  for (const args of [
    ["ps", "--all"],
    ["network", "ls"],
    ["volume", "ls"],
  ]) {
    const r = docker([
      ...args,
      "--filter",
      "label=com.docker.compose.project",
      "--format",
      '{{.Label "com.docker.compose.project"}}',
    ]);
    for (const name of r.stdout.split("\n")) if (name.startsWith(prefix)) projects.add(name);
  }
  const removed: string[] = [];
  for (const project of projects) {
    const pid = Number(project.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    docker(
      ["compose", "--project-name", project, "down", "--volumes", "--remove-orphans", "--timeout", "0"],
      120_000,
    );
    removed.push(project);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
