/** @module Shared set-up of the proxy suites: a private Redis and a proxy in front of it, for the calling file. */
import { afterAll, beforeAll } from "vitest";
import { type RedisServer, startRedis } from "../../../local/support";
import { startTestProxy, type TestProxy } from "../../helpers/proxy";

/** What a suite's hooks started; filled in by `beforeAll`, so read it inside tests and hooks only. */
export interface ProxySuite {
  redis: RedisServer;
  proxy: TestProxy;
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start a Redis and the proxy (with the extra CLI `flags`)
 * for the calling test file and stop both afterwards.
 *
 * @example
 * const suite = proxySuite(["--read-only-token", "ro"]);
 * it("answers", async () => expect((await fetch(`${suite.proxy.url}/healthz`)).status).toBe(200));
 */
export function proxySuite(flags: string[] = []): ProxySuite {
  const suite = {} as ProxySuite;
  beforeAll(async () => {
    suite.redis = await startRedis();
    suite.proxy = await startTestProxy(suite.redis.url, flags);
  });
  afterAll(async () => {
    await suite.proxy?.stop();
    await suite.redis?.stop();
  });
  return suite;
}
