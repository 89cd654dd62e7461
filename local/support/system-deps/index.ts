/** @module Finds (and on Debian as root, installs) the system programs the stack, tests and benchmark run. */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Result } from "../../../workers/result";

/** A program the project runs, and the package that provides it on each platform. */
export interface SystemDep {
  command: string;
  apt: string;
  brew: string;
}

export const SYSTEM_DEPS = {
  redis: { command: "redis-server", apt: "redis-server", brew: "redis" },
  "redis-benchmark": { command: "redis-benchmark", apt: "redis-tools", brew: "redis" },
  nginx: { command: "nginx", apt: "nginx", brew: "nginx" },
  chromium: { command: "chromium", apt: "chromium", brew: "--cask chromium" },
  wrk: { command: "wrk", apt: "wrk", brew: "wrk" },
} satisfies Record<string, SystemDep>;

export type SystemDepName = keyof typeof SYSTEM_DEPS;

/** What the machine offers, so the decision below can be tested without touching the machine. */
export interface Machine {
  /** PATH entries to search (the sbin directories below are always searched too). */
  path: string;
  root: boolean;
  debian: boolean;
}

// nginx lives in /usr/sbin, which is not on a normal user's PATH.
const EXTRA_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/opt/homebrew/bin", "/usr/local/bin"];

/**
 * Absolute path of an executable on `path` (default PATH) or in the sbin directories, or `null`.
 *
 * @example
 * resolveCommand("nginx"); // "/usr/sbin/nginx"
 */
export function resolveCommand(command: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of [...path.split(":").filter(Boolean), ...EXTRA_DIRS]) {
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

/**
 * This machine, as `planSystemDeps` sees it.
 *
 * @example
 * thisMachine(); // { path: "/usr/bin:/bin", root: true, debian: true }
 */
export function thisMachine(): Machine {
  return { path: process.env.PATH ?? "", root: process.getuid?.() === 0, debian: isDebianLike() };
}

function installHint(deps: SystemDep[]): string {
  const apt = [...new Set(deps.map((d) => d.apt))].join(" ");
  // Casks and formulae can't share one `brew install` line.
  const brew = (cask: boolean) => [
    ...new Set(
      deps.filter((d) => d.brew.startsWith("--cask ") === cask).map((d) => d.brew.replace("--cask ", "")),
    ),
  ];
  const mac = [
    ...(brew(false).length ? [`brew install ${brew(false).join(" ")}`] : []),
    ...(brew(true).length ? [`brew install --cask ${brew(true).join(" ")}`] : []),
  ].join(" && ");
  return `install them with:\n  Debian/Ubuntu: sudo apt-get install -y ${apt}\n  macOS:         ${mac}`;
}

/** What to do about the wanted programs: nothing, apt-get these packages, or tell the user. */
export type SystemDepsPlan =
  | { action: "none" }
  | { action: "apt-get"; packages: string[] }
  | { action: "tell"; error: string };

/**
 * Decides, without side effects, how the named programs get onto `machine`.
 *
 * @example
 * planSystemDeps(["chromium"], { path: "/nowhere", root: true, debian: true });
 * // { action: "apt-get", packages: ["chromium"] }
 */
export function planSystemDeps(names: SystemDepName[], machine: Machine): SystemDepsPlan {
  const missing = missingDeps(names, machine.path);
  if (missing.length === 0) return { action: "none" };
  if (machine.root && machine.debian)
    return { action: "apt-get", packages: [...new Set(missing.map((d) => d.apt))] };
  return { action: "tell", error: missingError(missing) };
}

function missingDeps(names: SystemDepName[], path: string): SystemDep[] {
  return names.map((n) => SYSTEM_DEPS[n]).filter((d) => resolveCommand(d.command, path) === null);
}

function missingError(missing: SystemDep[]): string {
  const commands = missing.map((d) => d.command).join(", ");
  return `missing system programs: ${commands}; ${installHint(missing)}`;
}

// Debian's postinst scripts start redis-server and nginx as services on the default ports (6379, 80).
// The project starts private ones on free ports, so those services would only take ports and CPU:
// invoke-rc.d asks policy-rc.d first, and exit 101 means "don't start anything".
const POLICY_RC = "/usr/sbin/policy-rc.d";

function aptGetInstall(packages: string[], log: (line: string) => void): void {
  log(`edge-rate-limiter: installing missing system packages with apt-get: ${packages.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const stdio: ["ignore", "ignore", "inherit"] = ["ignore", "ignore", "inherit"];
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) writeFileSync(POLICY_RC, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const update = spawnSync("apt-get", ["update", "-qq"], { stdio, env });
    const install = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], {
      stdio,
      env,
    });
    if (update.status !== 0 || install.status !== 0) log("edge-rate-limiter: apt-get failed (see above)");
  } finally {
    if (ownPolicy) rmSync(POLICY_RC, { force: true });
  }
}

/**
 * Makes sure the named programs exist. Missing ones are installed with apt-get when running as root on
 * Debian/Ubuntu (saying so on stderr, without starting the distro's services); otherwise the error
 * names the exact packages to install. The value maps each command to its absolute path.
 *
 * @example
 * const deps = ensureSystemDeps(["redis", "nginx"]);
 * if (!deps.ok) { console.error(deps.error); process.exit(1); }
 * deps.value.nginx; // "/usr/sbin/nginx"
 */
export function ensureSystemDeps(
  names: SystemDepName[],
  log: (line: string) => void = console.error,
): Result<Record<string, string>> {
  const plan = planSystemDeps(names, thisMachine());
  if (plan.action === "tell") return { ok: false, error: plan.error };
  if (plan.action === "apt-get") aptGetInstall(plan.packages, log);
  const missing = missingDeps(names, thisMachine().path);
  if (missing.length > 0) return { ok: false, error: missingError(missing) };
  const paths: Record<string, string> = {};
  for (const name of names) {
    const { command } = SYSTEM_DEPS[name];
    paths[command] = resolveCommand(command) as string;
  }
  return { ok: true, value: paths };
}
