/** @module Vitest global setup: the system programs every suite runs are installed, and the worker bundle is fresh. */
import { spawnSync } from "node:child_process";
import { ensureSystemDeps, type SystemDepName } from "../../local/support";

/** What the suites start: Redis (and redis-cli for the cluster), NGINX, and Chromium for the demo page. */
export const TEST_SYSTEM_DEPS: SystemDepName[] = ["redis", "nginx", "chromium"];

export default function setup(): void {
  // As `npm start` does: apt-get as root on Debian/Ubuntu, otherwise a message naming the packages.
  const deps = ensureSystemDeps(TEST_SYSTEM_DEPS);
  if (!deps.ok) throw new Error(`npm test: ${deps.error}`);
  // Suites run the bundle exactly as `wrangler deploy` would upload it, so build it from the current source.
  const build = spawnSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build failed (see above)");
}
