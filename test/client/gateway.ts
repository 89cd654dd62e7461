/** @module Test helper: a tiny round-robin reverse proxy that sets CF-Connecting-IP from the socket, as NGINX does. */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { DEMO_POLICIES, DEMO_ROUTES } from "../../local/demo/policies";
import type { EdgeStack } from "../helpers/edge-stack";

export interface Gateway {
  url: string;
  stop(): Promise<void>;
}

/** Headers a client must not be able to forge, and hop-by-hop headers that belong to one connection. */
const DROP = new Set([
  "cf-connecting-ip",
  "x-forwarded-for",
  "connection",
  "keep-alive",
  "proxy-connection",
  "upgrade",
]);

/**
 * Starts a gateway on a free port in front of `targets` (round robin). A browser can't set
 * `CF-Connecting-IP`; in production Cloudflare sets it and locally NGINX does, so the tests do the same.
 *
 * @example
 * const gateway = await startGateway(stack.edges.map((e) => e.url));
 * await fetch(`${gateway.url}/healthz`);
 * await gateway.stop();
 */
export async function startGateway(targets: readonly string[]): Promise<Gateway> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const server = createServer(function forward(req, res) {
    const target = new URL(targets[next++ % targets.length] as string);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !DROP.has(name)) headers[name] = value;
    }
    headers["cf-connecting-ip"] = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `gateway: ${error.message}` }));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
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
    const text = await (await fetch(`${edge.url}/metrics`)).text();
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
