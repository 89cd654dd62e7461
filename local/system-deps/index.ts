/** @module Finds (and on Debian as root, installs) the system programs the stack and tests run: Redis, NGINX, Chromium. */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** A program the project runs, and the package that provides it on each platform. */
export interface SystemDep {
  command: string;
  apt: string;
  brew: string;
}

export const SYSTEM_DEPS = {
  redis: { command: "redis-server", apt: "redis-server", brew: "redis" },
  nginx: { command: "nginx", apt: "nginx", brew: "nginx" },
  chromium: { command: "chromium", apt: "chromium", brew: "--cask chromium" },
} satisfies Record<string, SystemDep>;

export type SystemDepName = keyof typeof SYSTEM_DEPS;

// nginx lives in /usr/sbin, which is not on a normal user's PATH.
const EXTRA_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/opt/homebrew/bin", "/usr/local/bin"];

/**
 * Absolute path of an executable on PATH (or in the sbin directories), or `null`.
 *
 * @example
 * resolveCommand("nginx"); // "/usr/sbin/nginx"
 */
export function resolveCommand(command: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

function isDebianLike(): boolean {
  if (existsSync("/etc/debian_version")) return true;
  try {
    return /^ID(_LIKE)?=.*\b(debian|ubuntu)\b/m.test(readFileSync("/etc/os-release", "utf8"));
  } catch {
    return false;
  }
}

function installHint(deps: SystemDep[]): string {
  const apt = deps.map((d) => d.apt).join(" ");
  const brew = deps.map((d) => d.brew).join(" ");
  return `install them with:\n  Debian/Ubuntu: sudo apt-get install -y ${apt}\n  macOS:         brew install ${brew}`;
}

export type EnsureResult = { ok: true; paths: Record<string, string> } | { ok: false; error: string };

/**
 * Makes sure the named programs exist. Missing ones are installed with apt-get when running as root on
 * Debian/Ubuntu (and says so on stderr); otherwise the result names the exact packages to install.
 *
 * @example
 * const deps = ensureSystemDeps(["redis", "nginx"]);
 * if (!deps.ok) { console.error(deps.error); process.exit(1); }
 * deps.paths["nginx"]; // "/usr/sbin/nginx"
 */
export function ensureSystemDeps(
  names: SystemDepName[],
  log: (line: string) => void = console.error,
): EnsureResult {
  const wanted = names.map((n) => SYSTEM_DEPS[n]);
  let missing = wanted.filter((d) => resolveCommand(d.command) === null);
  if (missing.length > 0 && process.getuid?.() === 0 && isDebianLike()) {
    const packages = missing.map((d) => d.apt);
    log(`edge-rate-limiter: installing missing system packages with apt-get: ${packages.join(" ")}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const update = spawnSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
    const install = spawnSync("apt-get", ["install", "-y", "-qq", ...packages], {
      stdio: ["ignore", "ignore", "inherit"],
      env,
    });
    if (update.status !== 0 || install.status !== 0) log("edge-rate-limiter: apt-get failed (see above)");
    missing = wanted.filter((d) => resolveCommand(d.command) === null);
  }
  if (missing.length > 0) {
    const names = missing.map((d) => d.command).join(", ");
    return { ok: false, error: `missing system programs: ${names}; ${installHint(missing)}` };
  }
  const paths: Record<string, string> = {};
  for (const d of wanted) paths[d.command] = resolveCommand(d.command) as string;
  return { ok: true, paths };
}
