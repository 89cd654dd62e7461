import { spawnSync } from "node:child_process";
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../local/process";

const docker = spawnSync("docker", ["info"], { timeout: 10_000, encoding: "utf8" });
const engine = docker.status === 0;
if (!engine) {
  console.log(
    `compose suite skipped: no Docker engine answers (\`docker info\`: ${(docker.stderr || docker.error?.message || "").trim().split("\n")[0]})`,
  );
}

describe.skipIf(!engine)("docker-compose stack", () => {
  let env: StartedDockerComposeEnvironment;
  let url: string;

  beforeAll(async () => {
    env = await new DockerComposeEnvironment(REPO_ROOT, "docker-compose.yml")
      .withBuild()
      .withWaitStrategy("nginx-1", Wait.forLogMessage(/nginx listening/))
      .up();
    url = "http://127.0.0.1:8080";
  }, 600_000);
  afterAll(async () => {
    await env?.down();
  });

  it("round-robins over the three edges and shares one bucket", async () => {
    const served = new Set<string>();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${url}/compose-check`);
      statuses.push(res.status);
      served.add(res.headers.get("X-Served-By") ?? "");
    }
    expect(served).toEqual(new Set(["edge-1", "edge-2", "edge-3"]));
    // Default policy: 10 tokens at 5/s; 12 quick requests leave at most one refill in between.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(10);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(11);
  });
});
