/** @module docker-compose.yml for real: round robin, one bucket across the edges, edges killed, and a `down` that leaves nothing (skips, saying why, where Docker can't run it). */
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, REPO_ROOT, waitUntil } from "../../local/support";
import {
  composeSkipReason,
  docker,
  existingVolumes,
  projectResources,
  removeAbandonedProjects,
  ryukAvailable,
} from "../helpers/docker";

// One project per test process: a run that died without cleaning up is recognised (and removed) by its pid.
const PROJECT_PREFIX = "erl-compose-";
const PROJECT = `${PROJECT_PREFIX}${process.pid}`;
const CAPACITY = 20;
const CONCURRENT = 60;
const POLICIES = {
  policies: {
    // One refill an hour: nothing comes back during the test, so exactly CAPACITY requests pass. A burst
    // queues up on two shared cores: closed with a long timeout, every decision is Redis's, never a guess.
    shared: {
      limits: [{ name: "burst", capacity: CAPACITY, refill: "1/h" }],
      onError: "closed",
      timeoutMs: 5000,
    },
    // Round-robin and failover traffic must never be denied.
    roomy: { limits: [{ name: "burst", capacity: 100000, refill: "100000/s" }] },
  },
  routes: [
    { path: "/shared/*", policy: "shared", key: "ip" },
    { path: "/*", policy: "roomy", key: "ip" },
  ],
};

const skipReason = composeSkipReason();
if (skipReason) {
  console.log(`compose suite skipped: ${skipReason}`);
} else {
  const ryuk = ryukAvailable();
  if (!ryuk.ok) {
    // Without Ryuk nothing removes the stack if this process is killed: afterAll removes it when the
    // suite ends, and the next run removes what a killed run left (removeAbandonedProjects).
    process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
    console.log(`compose suite: Ryuk (${ryuk.image}) unavailable (${ryuk.why}); the suite cleans up itself`);
  }
}

interface Answer {
  status: number;
  servedBy: string;
}

async function get(url: string): Promise<Answer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  await res.arrayBuffer();
  return { status: res.status, servedBy: res.headers.get("X-Served-By") ?? "" };
}

/** `count` requests one after another, as a client that never stops would send them. */
async function sequential(base: string, count: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await get(`${base}/${i}`));
  return answers;
}

function inspect(id: string): { restarts: number; status: string; health: string } {
  const r = docker([
    "inspect",
    "--format",
    "{{.RestartCount}} {{.State.Status}} {{.State.Health.Status}}",
    id,
  ]);
  if (!r.ok) throw new Error(`docker inspect ${id}: ${r.why}`);
  const [restarts, status, health] = r.stdout.split(" ");
  return { restarts: Number(restarts), status: status ?? "", health: health ?? "" };
}

describe.skipIf(skipReason !== null)("docker-compose stack", () => {
  let env: StartedDockerComposeEnvironment | undefined;
  let url = "";

  /** Waits until `instance` answers through the gateway again (NGINX retries a failed edge after 2 s). */
  async function waitServing(instance: string): Promise<void> {
    await waitUntil(
      `${instance} serves through the gateway`,
      async () => (await get(`${url}/back`)).servedBy === instance,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
  }

  function containerId(service: string): string {
    if (!env) throw new Error("the stack is not up");
    return env.getContainer(`${service}-1`).getId();
  }

  beforeAll(async () => {
    const abandoned = removeAbandonedProjects(PROJECT_PREFIX);
    if (abandoned.length)
      console.log(`compose suite: removed stacks left by dead runs: ${abandoned.join(", ")}`);
    // A free host port: a developer's own stack (or anything else) may hold 8080.
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const started = Date.now();
    env = await new DockerComposeEnvironment(REPO_ROOT, "docker-compose.yml")
      .withProjectName(PROJECT)
      .withBuild()
      .withEnvironment({ GATEWAY_PORT: String(port), POLICIES: JSON.stringify(POLICIES) })
      // What the README tells users to run: `up --wait` returns once every healthcheck passes.
      .withClientOptions({ commandOptions: ["--wait"] })
      .withDefaultWaitStrategy(Wait.forHealthCheck())
      .up();
    console.log(`compose suite: stack built and healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 900_000);

  afterAll(async () => {
    await env?.down({ removeVolumes: true, timeout: 10_000 });
  }, 120_000);

  it("answers as soon as `up --wait` returns, round-robin over the three edges", async () => {
    const answers = await sequential(`${url}/rr`, 12);
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    const served = answers.map((a) => a.servedBy);
    expect(new Set(served)).toEqual(new Set(["edge-1", "edge-2", "edge-3"]));
    // The gateway's own healthcheck may take a turn between two of these, never the same edge twice in a row.
    for (let i = 1; i < served.length; i++) expect(served[i]).not.toBe(served[i - 1]);
  });

  it(`shares one bucket across the edges: exactly ${CAPACITY} of ${CONCURRENT} concurrent requests pass`, async () => {
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => get(`${url}/shared/${i}`)),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200).length).toBe(CAPACITY);
    expect(statuses.filter((s) => s === 429).length).toBe(CONCURRENT - CAPACITY);
    expect(new Set(answers.map((a) => a.servedBy))).toEqual(new Set(["edge-1", "edge-2", "edge-3"]));
  });

  it("an edge that crashes: requests keep succeeding through the others, and it comes back by itself", async () => {
    const id = containerId("edge1");
    const before = inspect(id);
    // Every process of the container but its init dies at once, as in a crash or the OOM killer.
    const killed = docker(["exec", "--user", "0", id, "bash", "-c", "kill -KILL -1"]);
    expect(killed.ok, killed.why).toBe(true);
    const during = await sequential(`${url}/crash`, 30);
    expect(during.map((a) => a.status)).toEqual(Array(30).fill(200));
    expect(during.filter((a) => a.servedBy === "edge-1")).toEqual([]);
    await waitUntil(
      "edge1 restarted by its restart policy and healthy",
      async () => {
        const now = inspect(id);
        return now.restarts === before.restarts + 1 && now.health === "healthy";
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    await waitServing("edge-1");
  }, 150_000);

  it("`docker kill` on an edge: requests keep succeeding through the others; Docker leaves it down", async () => {
    const id = containerId("edge2");
    const before = inspect(id);
    const killed = docker(["kill", id]);
    expect(killed.ok, killed.why).toBe(true);
    const during = await sequential(`${url}/kill`, 30);
    expect(during.map((a) => a.status)).toEqual(Array(30).fill(200));
    expect(during.filter((a) => a.servedBy === "edge-2")).toEqual([]);
    // Docker's rule, not the stack's: a container it was told to kill has its restart policy suspended
    // until it is started again (`docker kill` is an operator's stop; a crash, above, is restarted).
    const after = inspect(id);
    expect({ restarts: after.restarts, status: after.status }).toEqual({
      restarts: before.restarts,
      status: "exited",
    });
  }, 60_000);

  it("`docker compose down` leaves no container, network or volume", async () => {
    const before = projectResources(PROJECT);
    expect(before.containers.length).toBe(6);
    expect(before.networks.length).toBe(1);
    // Plain `down`, without -v: nothing the stack made may outlive it.
    await env?.down({ removeVolumes: false, timeout: 10_000 });
    env = undefined;
    expect(projectResources(PROJECT)).toEqual({ containers: [], networks: [], volumes: [] });
    expect(existingVolumes(before.volumes)).toEqual([]);
  }, 120_000);
});
