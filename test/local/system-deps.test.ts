/** @module What `npm test`, `npm start` and `npm run bench` do about a missing program, decided on a machine without it. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planSystemDeps, resolveCommand } from "../../local/support";
import { TEST_SYSTEM_DEPS } from "../helpers/global-setup";

// A PATH holding nothing: every program outside the sbin directories (chromium lives in /usr/bin) is
// missing, as on a fresh machine, without uninstalling anything from this one.
const EMPTY_PATH = mkdtempSync(join(tmpdir(), "erl-empty-path-"));
const fresh = (root: boolean, debian: boolean) => ({ path: EMPTY_PATH, root, debian });
const missingHere = (names: string[]) => names.filter((n) => resolveCommand(n, EMPTY_PATH) === null);

describe("system programs on a fresh machine", () => {
  it("the test setup asks for Redis, NGINX and Chromium", () => {
    expect(TEST_SYSTEM_DEPS).toEqual(["redis", "nginx", "chromium"]);
  });

  it("as root on Debian, a missing Chromium is installed with apt-get", () => {
    expect(missingHere(["chromium"])).toEqual(["chromium"]);
    expect(planSystemDeps(["chromium"], fresh(true, true))).toEqual({
      action: "apt-get",
      packages: ["chromium"],
    });
  });

  it("installs every package once, in order, for the bench's programs", () => {
    const plan = planSystemDeps(["wrk", "redis-benchmark"], fresh(true, true));
    expect(plan).toEqual({ action: "apt-get", packages: ["wrk", "redis-tools"] });
  });

  it("as a normal user, or off Debian, names the packages instead", () => {
    for (const machine of [fresh(false, true), fresh(true, false)]) {
      const plan = planSystemDeps(["chromium", "wrk"], machine);
      expect(plan).toEqual({
        action: "tell",
        error:
          "missing system programs: chromium, wrk; install them with:\n" +
          "  Debian/Ubuntu: sudo apt-get install -y chromium wrk\n" +
          "  macOS:         brew install wrk && brew install --cask chromium",
      });
    }
  });

  it("finds a program on PATH and does nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "erl-path-"));
    writeFileSync(join(dir, "chromium"), "#!/bin/sh\n", { mode: 0o755 });
    expect(resolveCommand("chromium", dir)).toBe(join(dir, "chromium"));
    expect(planSystemDeps(["chromium"], { path: dir, root: false, debian: false })).toEqual({
      action: "none",
    });
  });

  it("never takes a file without the execute bit for a program", () => {
    const dir = mkdtempSync(join(tmpdir(), "erl-path-"));
    writeFileSync(join(dir, "wrk"), "not a program", { mode: 0o644 });
    expect(resolveCommand("wrk", dir)).toBe(resolveCommand("wrk", EMPTY_PATH));
  });
});
