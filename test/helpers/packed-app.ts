/** @module Test helper: the package as `npm pack` makes it, installed into a fresh app outside the repo, and the README's example. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../local/support";

/** What `npm pack --json` says about the tarball. */
export interface Packed {
  /** Absolute path of the `.tgz`. */
  tarball: string;
  /** Bytes of the `.tgz`. */
  size: number;
  /** Paths inside the package, sorted. */
  files: string[];
}

/** A fresh app in a temporary folder (outside the repo, so nothing resolves from the repo's node_modules). */
export interface FreshApp {
  dir: string;
  packed: Packed;
  remove(): Promise<void>;
}

/** npm's own variables from `npm test` would point a nested npm at the repo (its prefix, its config). */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
}

function npm(cwd: string, args: string[]): string {
  return execFileSync("npm", args, {
    cwd,
    env: npmEnv(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** The version of a package the repo has installed: the fresh app gets the same one (from npm's cache). */
export function repoVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8"));
  return manifest.version as string;
}

/**
 * `npm pack` of the repo (its `dist` must be built: vitest's global setup builds it) into `dir`.
 *
 * @example
 * const packed = packRepo(dir); // { tarball: "/tmp/…/edge-rate-limiter-0.1.0.tgz", size: 112345, files: [...] }
 */
export function packRepo(dir: string): Packed {
  const [report] = JSON.parse(npm(REPO_ROOT, ["pack", "--json", "--pack-destination", dir])) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  if (!report) throw new Error("npm pack reported nothing");
  return {
    tarball: join(dir, report.filename),
    size: report.size,
    files: report.files.map((f) => f.path).sort(),
  };
}

/**
 * Packs the repo and installs the tarball into a new ESM app with `peers` (name@version specs) beside it,
 * as a user would: `npm install ./edge-rate-limiter-0.1.0.tgz hono @upstash/redis`.
 *
 * @example
 * const app = createFreshApp([`hono@${repoVersion("hono")}`]);
 * await app.remove();
 */
export function createFreshApp(peers: string[]): FreshApp {
  const dir = mkdtempSync(join(tmpdir(), "erl-fresh-app-"));
  const packed = packRepo(dir);
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), '{ "name": "fresh-app", "private": true, "type": "module" }\n');
  npm(app, [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--loglevel=error",
    packed.tarball,
    ...peers,
  ]);
  return { dir: app, packed, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Every installed package of the app (what `npm ls --all --parseable` finds on disk), sorted, each once. */
export function installedPackages(app: string): string[] {
  const paths = npm(app, ["ls", "--all", "--parseable"]).trim().split("\n").slice(1);
  const names = paths.map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(path)?.[1] ?? path);
  return [...new Set(names)].sort();
}

const EXAMPLE_START = "<!-- readme-example:start -->";
const EXAMPLE_END = "<!-- readme-example:end -->";

/**
 * The README's middleware example (the `ts` block between the readme-example markers), with a real URL and
 * token in place of its `"https://…"` and `"…"` placeholders.
 *
 * @example
 * writeFileSync(join(app, "app.ts"), readmeExample(proxy.url, proxy.token));
 */
export function readmeExample(url: string, token: string): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(EXAMPLE_START), readme.indexOf(EXAMPLE_END));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`README.md: no ts block between ${EXAMPLE_START} and ${EXAMPLE_END}`);
  const placeholders = ['url: "https://…"', 'token: "…"'];
  for (const p of placeholders) {
    if (code.split(p).length !== 2) throw new Error(`README example: expected ${p} exactly once`);
  }
  return code
    .replace(placeholders[0] as string, `url: ${JSON.stringify(url)}`)
    .replace(placeholders[1] as string, `token: ${JSON.stringify(token)}`);
}
