/** @module A TCP relay that delays every chunk by a fixed time each way: a far store's round trip, on loopback. */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** A running relay: connect to `port` and reach the target `delayMs` later in each direction. */
export interface DelayRelay {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Forwards `from` to `to`, each chunk `delayMs` later, in order (this kernel has no `tc netem`). */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  from.on("data", (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on("end", () => setTimeout(() => to.end(), delayMs));
  from.on("error", () => to.destroy());
  from.on("close", () => setTimeout(() => to.destroy(), delayMs));
}

/**
 * Starts a relay on a free loopback port in front of `targetPort`, adding `delayMs` each way.
 *
 * @example
 * const relay = await startDelayRelay(proxyPort, 20);
 * // UPSTASH_REDIS_REST_URL = relay.url: every store round trip now takes 40 ms more.
 */
export async function startDelayRelay(targetPort: number, delayMs: number): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    delayed(client, upstream, delayMs);
    delayed(upstream, client, delayMs);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
