/** @module Vitest global setup: system programs exist and the worker bundle is fresh before any suite runs. */
import { spawnSync } from "node:child_process";
import { ensureSystemDeps } from "../../local/system-deps";

export default function setup(): void {
  const deps = ensureSystemDeps(["redis", "nginx"]);
  if (!deps.ok) throw new Error(deps.error);
  // Suites run the bundle exactly as `wrangler deploy` would upload it, so build it from the current source.
  const build = spawnSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build failed (see above)");
}
