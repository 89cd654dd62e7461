/** @module Test helper: a private redis-server for a suite, flushed before every test, with a direct client. */
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type RedisServer, startRedis } from "../../local/support";

/**
 * Starts a Redis for the calling suite (stopped after it) and empties it before each test. Call it at
 * the top level of a test file; read `.client` inside tests.
 *
 * @example
 * const redis = useFreshRedis();
 * it("…", async () => { await redis.client.set("k", "v"); });
 */
export function useFreshRedis(): { readonly client: Redis; readonly server: RedisServer } {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    await client?.flushall();
  });
  return {
    get client() {
      if (!client) throw new Error("useFreshRedis: the client exists only inside tests");
      return client;
    },
    get server() {
      if (!server) throw new Error("useFreshRedis: the server exists only inside tests");
      return server;
    },
  };
}
