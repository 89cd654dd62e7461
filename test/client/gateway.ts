/** @module Client suites' helpers: the real NGINX gateway in front of the edges, the demo's policies, server-side counts. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNginx } from "../../local/stack";
import { freePort } from "../../local/support";
import { DEMO_POLICIES, DEMO_ROUTES } from "../../local/tools";
import type { EdgeStack } from "../helpers/edge-stack";
import { getFresh } from "../helpers/load";

export interface Gateway {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts NGINX (the stack's own configuration) on a free port in front of `targets`, round robin. A
 * browser can't set `CF-Connecting-IP`: NGINX sets it from the socket, as Cloudflare does in production.
 *
 * @example
 * const gateway = await startGateway(stack.edges.map((e) => e.url));
 * await fetch(`${gateway.url}/healthz`);
 * await gateway.stop();
 */
export async function startGateway(targets: readonly string[]): Promise<Gateway> {
  const runDir = await mkdtemp(join(tmpdir(), "erl-client-gateway-"));
  const listen = `127.0.0.1:${await freePort()}`;
  const nginx = await startNginx({ listen, edges: targets.map((t) => new URL(t).host), runDir });
  return {
    url: `http://${listen}`,
    async stop() {
      await nginx.stop();
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

/** Denials (`outcome="limit_exceeded"`) the edges counted for `policy`, summed over every instance's `/metrics`. */
export async function serverDenials(stack: EdgeStack, policy: string): Promise<number> {
  return sumMetric(stack, policy, "limit_exceeded");
}

/** Allowed decisions the edges counted for `policy`. */
export async function serverAllowed(stack: EdgeStack, policy: string): Promise<number> {
  return sumMetric(stack, policy, "allowed");
}

async function sumMetric(stack: EdgeStack, policy: string, outcome: string): Promise<number> {
  let total = 0;
  for (const edge of stack.edges) {
    const text = await (await getFresh(`${edge.url}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (!line.startsWith("erl_decisions_total{")) continue;
      if (line.includes(`policy="${policy}"`) && line.includes(`outcome="${outcome}"`)) {
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
  }
  return total;
}

/**
 * The demo's own policies and routes (each burst starts on a full 10-token, 5/s bucket), plus a 2-token
 * bucket for the CORS header checks.
 */
export function burstPolicies(origin?: string): unknown {
  return {
    prefix: "client",
    policies: {
      ...DEMO_POLICIES,
      "demo-cors": { limits: [{ name: "burst", capacity: 2, refill: "1/m" }], timeoutMs: 5000 },
    },
    routes: [...DEMO_ROUTES, { path: "/demo-api/cors/*", policy: "demo-cors", key: "ip" }],
    ...(origin ? { cors: { origins: [origin] } } : {}),
  };
}
