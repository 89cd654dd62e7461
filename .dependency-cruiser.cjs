/** @module Import directions and dependency kinds `npm run lint` enforces (dependency-cruiser). */
// The package (workers/, client/, lua/) runs on every edge runtime: it reaches no Node built-in, no code
// of the local stack, benchmarks or tests, and no package its users don't install with it.
const PACKAGE = "^(workers|client|lua)/";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import circle anywhere (bench and tests included): a reader follows imports one way.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "package-not-to-node",
      comment:
        "workers/, client/ and lua/ run on workerd, Vercel Edge, Deno, Bun and browsers: no Node built-ins.",
      severity: "error",
      // lua/ioredis.ts is the Node side's runner (the proxy, tests, bench), never in the package's bundle.
      from: { path: PACKAGE, pathNot: "^lua/ioredis\\.ts$" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "package-not-to-local",
      comment: "The package must not import the local stack, benchmarks, tests or build scripts.",
      severity: "error",
      from: { path: PACKAGE },
      to: { path: "^(local|bench|test|scripts)/" },
    },
    {
      name: "package-only-to-its-dependencies",
      comment:
        "What the package imports must be what its users install: a dependency or a peer, never a devDependency alone.",
      severity: "error",
      from: { path: PACKAGE },
      // Built-ins ("core") have a rule of their own above.
      to: { dependencyTypesNot: ["local", "npm", "npm-peer", "core"] },
    },
    {
      name: "client-stands-alone",
      comment: "edge-rate-limiter/client has no dependencies: it imports only client/.",
      severity: "error",
      from: { path: "^client/" },
      to: { pathNot: "^client/" },
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-non-package-json",
      comment: "Every package imported is listed in package.json.",
      severity: "error",
      from: {},
      // dependency-cruiser also reads peerDependenciesMeta as a section of its own ("npm-no-pkg"): a package
      // listed in a real section as well is listed.
      to: {
        dependencyTypes: ["npm-no-pkg", "npm-unknown"],
        dependencyTypesNot: ["npm", "npm-dev", "npm-peer", "npm-optional"],
      },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|\\.wrangler|bench/results)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
  },
};
