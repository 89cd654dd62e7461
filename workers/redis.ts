/** @module The `@upstash/redis` client the edge uses: one request's decision is one HTTP exchange, nothing more. */
import { Redis } from "@upstash/redis/cloudflare";

/**
 * A REST client for Upstash or the local proxy, tuned for rate limiting in workerd.
 *
 * @example
 * const redis = createRedisClient(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN);
 */
export function createRedisClient(url: string, token: string): Redis {
  return new Redis({
    url,
    token,
    // One request owns its I/O: auto-pipelining would make one request await another's fetch, which
    // workerd cancels as hung. Retries would blow the policy timeout; the fail mode decides instead.
    enableAutoPipelining: false,
    retry: false,
    // No sync-token, telemetry or latency headers to write and parse; replies are integers, so no base64.
    readYourWrites: false,
    enableTelemetry: false,
    latencyLogging: false,
    responseEncoding: false,
    // The bucket's replies are integer arrays: nothing to parse as JSON.
    automaticDeserialization: false,
  });
}
