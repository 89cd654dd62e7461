/** @module Test helper: closed-loop load (N clients, one request at a time each) that records every answer. */
import { request as httpRequest } from "node:http";

/** One answered (or failed) request. */
export interface Sample {
  startedAt: number;
  ms: number;
  status: number;
  reason: string | null;
  servedBy: string | null;
  error?: string;
}

export interface Load {
  samples: Sample[];
  /** Stops sending and resolves once every in-flight request has answered. */
  stop(): Promise<Sample[]>;
}

/**
 * Starts `clients` loops that each send `request()` (then pause `pauseMs`) until stopped.
 *
 * @example
 * const load = startLoad(10, () => fetch(`${url}/x`));
 * await sleep(2000);
 * const samples = await load.stop();
 */
export function startLoad(clients: number, request: (i: number) => Promise<Response>, pauseMs = 0): Load {
  const samples: Sample[] = [];
  let running = true;
  let sent = 0;
  async function loop(): Promise<void> {
    while (running) {
      const startedAt = performance.now();
      try {
        const res = await request(sent++);
        await res.arrayBuffer();
        samples.push({
          startedAt,
          ms: performance.now() - startedAt,
          status: res.status,
          reason: res.headers.get("X-RateLimit-Reason"),
          servedBy: res.headers.get("X-Served-By"),
        });
      } catch (error) {
        samples.push({
          startedAt,
          ms: performance.now() - startedAt,
          status: 0,
          reason: null,
          servedBy: null,
          error: `${error} ${(error as Error).cause ?? ""}`,
        });
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }
  const loops = Array.from({ length: clients }, loop);
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The slowest sample, for messages. */
export function slowest(samples: Sample[]): Sample | undefined {
  return samples.reduce<Sample | undefined>((max, s) => (!max || s.ms > max.ms ? s : max), undefined);
}

/**
 * A GET on a fresh connection (no keep-alive), returned as a web `Response`. A client that reuses an idle
 * keep-alive connection can race the server closing it (e.g. NGINX's old workers on reload); browsers
 * retry such idempotent requests, undici's fetch does not, so tests of server-side behaviour use this.
 *
 * @example
 * const res = await getFresh(`${url}/x`, { "x-client": "a" });
 */
export function getFresh(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: h }));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
