/** @module Helpers for one Redis Cluster node: ports with a free bus port, one-shot queries, CLUSTER NODES parsing. */
import { createServer } from "node:net";
import { Redis } from "ioredis";

/** One node as `CLUSTER NODES` describes it. */
export interface NodeInfo {
  id: string;
  port: number;
  role: "master" | "replica";
  /** For a replica, the id of its master. */
  masterId: string | null;
  /** `fail`/`fail?` when the cluster considers the node down. */
  failing: boolean;
  connected: boolean;
  /** Slot ranges served, `[first, last]` inclusive (masters only). */
  slots: Array<[number, number]>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A port for a cluster node: it and its cluster bus port (port + 10000) are free, and both stay below
 * 65536, which an ephemeral port from the OS (often above 55535) would not guarantee.
 *
 * @example
 * const port = await clusterPort(new Set()); // e.g. 31547, with 41547 free too
 */
export async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) return port;
  }
  throw new Error("no free port pair (port, port + 10000) found for a cluster node");
}

/**
 * Sends one command to the node on `port` over a fresh connection and closes it: for polling nodes
 * that may be down, where a shared client would queue or reconnect.
 *
 * @example
 * await queryNode(7000, "CLUSTER", "INFO"); // "cluster_state:ok\r\n…"
 */
export async function queryNode(port: number, ...args: string[]): Promise<unknown> {
  const redis = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return await redis.call(args[0] as string, ...args.slice(1));
  } finally {
    redis.disconnect();
  }
}

/**
 * Parses `CLUSTER NODES` output.
 *
 * @example
 * parseClusterNodes("07c3… 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460");
 * // [{ id: "07c3…", port: 7000, role: "master", masterId: null, slots: [[0, 5460]], … }]
 */
export function parseClusterNodes(text: string): NodeInfo[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id = "", address = "", flags = "", master = "-", , , , link = "", ...slots] = line
        .trim()
        .split(" ");
      const flagList = flags.split(",");
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1] ?? 0),
        role: flagList.includes("master") ? "master" : "replica",
        masterId: master === "-" ? null : master,
        failing: flagList.includes("fail") || flagList.includes("fail?"),
        connected: link === "connected",
        slots: slots
          .filter((s) => !s.startsWith("["))
          .map((s) => {
            const [first, last] = s.split("-").map(Number);
            return [first as number, (last ?? first) as number] as [number, number];
          }),
      };
    });
}
