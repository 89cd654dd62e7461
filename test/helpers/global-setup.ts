/** @module Vitest global setup: the system programs every suite starts must exist before any suite runs. */
import { ensureSystemDeps } from "../../local/system-deps";

export default function setup(): void {
  const deps = ensureSystemDeps(["redis", "nginx"]);
  if (!deps.ok) throw new Error(deps.error);
}
