/** @module The package boundary as a user meets it: `npm pack`, a fresh app, publint, attw, and TypeScript under node16 and workerd. */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { publint } from "publint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../local/support";
import {
  createFreshApp,
  type FreshApp,
  installedPackages,
  readmeExample,
  repoVersion,
} from "../helpers/packed-app";

let app: FreshApp;

beforeAll(() => {
  app = createFreshApp([`hono@${repoVersion("hono")}`, `@upstash/redis@${repoVersion("@upstash/redis")}`]);
  // The figures issue 24 asks for, in the test log: what a user's node_modules weighs with the package.
  const du = execFileSync("du", ["-sh", "node_modules"], { cwd: app.dir, encoding: "utf8" }).split("\t")[0];
  const count = installedPackages(app.dir).length;
  console.log(`fresh app: tarball ${app.packed.size} bytes, node_modules ${du}, ${count} packages`);
}, 120_000);
afterAll(async () => {
  await app?.remove();
});

describe("the packed package", () => {
  it("ships the library, its declarations and docs, and nothing of the local stack", () => {
    const outside = app.packed.files.filter(
      (f) =>
        !/^(dist\/(index|client)\.js|dist\/types\/.+\.d\.ts|docs\/[\w-]+\.md|README\.md|package\.json)$/.test(
          f,
        ),
    );
    expect(outside).toEqual([]);
    expect(app.packed.files).toEqual(
      expect.arrayContaining([
        "dist/index.js",
        "dist/client.js",
        "dist/types/workers/index.d.ts",
        "dist/types/client/index.d.ts",
      ]),
    );
  });

  it("installs hono, @upstash/redis and valibot into a fresh app: no ioredis, one Hono, the app's", () => {
    expect(installedPackages(app.dir)).toEqual([
      "@upstash/redis",
      "edge-rate-limiter",
      "hono",
      "uncrypto", // @upstash/redis's own dependency
      "valibot",
    ]);
    const hono = execFileSync("npm", ["ls", "hono", "--all", "--parseable"], {
      cwd: app.dir,
      encoding: "utf8",
    });
    expect(hono.trim().split("\n")).toEqual([join(app.dir, "node_modules", "hono")]);
    expect(existsSync(join(app.dir, "node_modules", "edge-rate-limiter", "node_modules"))).toBe(false);
  });

  it("passes publint (strict) on the tarball as installed", async () => {
    const { messages } = await publint({
      pkgDir: join(app.dir, "node_modules", "edge-rate-limiter"),
      pack: false,
      level: "suggestion",
      strict: true,
    });
    expect(messages).toEqual([]);
  });

  it("passes attw for node16 (from ESM) and bundler, both entries", () => {
    const run = spawnSync(
      join(REPO_ROOT, "node_modules", ".bin", "attw"),
      [app.packed.tarball, "--format", "json", "--profile", "esm-only"],
      { encoding: "utf8" },
    );
    const report = JSON.parse(run.stdout) as {
      analysis: {
        entrypoints: Record<string, unknown>;
        problems: { kind: string; entrypoint?: string; resolutionKind?: string }[];
      };
    };
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual([".", "./client", "./package.json"]);
    // ESM-only by design: node10 and require() from CJS are out of scope (attw's esm-only profile).
    const relevant = report.analysis.problems.filter(
      (p) =>
        p.resolutionKind === undefined || p.resolutionKind === "node16-esm" || p.resolutionKind === "bundler",
    );
    expect(relevant).toEqual([]);
    expect(run.status).toBe(0);
  });
});

/** The README example and both entries, type-checked in the fresh app under the given module settings. */
function typecheck(name: string, compilerOptions: Record<string, unknown>): string {
  const config = {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2023", "DOM", "DOM.Iterable"],
      types: [],
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      ...compilerOptions,
    },
    files: ["app.ts", "client.ts"],
  };
  writeFileSync(join(app.dir, `tsconfig.${name}.json`), JSON.stringify(config));
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const run = spawnSync(process.execPath, [tsc, "-p", `tsconfig.${name}.json`], {
    cwd: app.dir,
    encoding: "utf8",
  });
  return `${run.stdout}${run.stderr}`.trim();
}

describe("the types in a user's project", () => {
  beforeAll(() => {
    writeFileSync(join(app.dir, "app.ts"), readmeExample("https://example.invalid", "token"));
    writeFileSync(
      join(app.dir, "client.ts"),
      'import { createBackoffFetch } from "edge-rate-limiter/client";\nexport const f: typeof fetch = createBackoffFetch({ maxWait: 1000 });\n',
    );
  });

  it("resolve under moduleResolution node16 (Node ESM)", () => {
    // With skipLibCheck off, as a strict project has it: our declarations must compile there too.
    const options = { module: "Node16", moduleResolution: "Node16", skipLibCheck: false };
    expect(typecheck("node16", options)).toBe("");
  });

  it("resolve under moduleResolution bundler with the workerd conditions", () => {
    const options = {
      module: "ESNext",
      moduleResolution: "Bundler",
      customConditions: ["workerd", "worker"],
    };
    expect(typecheck("workerd", options)).toBe("");
  });

  it("resolve to the package's JS under the workerd conditions, with the app's Hono", async () => {
    const out = await build({
      entryPoints: [join(app.dir, "app.ts")],
      absWorkingDir: app.dir,
      bundle: true,
      format: "esm",
      platform: "browser",
      conditions: ["workerd", "worker", "browser"],
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const packages = new Set(
      Object.keys(out.metafile.inputs)
        .map((input) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1])
        .filter((name) => name !== undefined),
    );
    expect([...packages].sort()).toEqual([
      "@upstash/redis",
      "edge-rate-limiter",
      "hono",
      "uncrypto",
      "valibot",
    ]);
    expect(Object.keys(out.metafile.inputs)).toContain("node_modules/edge-rate-limiter/dist/index.js");
  });
});
