/** @module The worker's environment (vars and secrets) read into a validated config, once per isolate. */
import { type CompiledPolicies, DEFAULT_POLICIES_JSON, parsePolicies } from "../policies";
import type { Result } from "../result";

/** Bindings the worker reads. Secrets: `UPSTASH_REDIS_REST_TOKEN`, `CHECK_API_TOKEN`. */
export interface Env {
  /** The policies document as JSON (see docs/configuration.md); the built-in default when unset. */
  POLICIES?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** Turns the check/inspect/reset API on. */
  CHECK_API_TOKEN?: string;
  /** Where allowed gateway requests go; a demo JSON answer when unset. */
  UPSTREAM_URL?: string;
  /** Named in `X-Served-By` and `/healthz` (local multi-instance mode). */
  INSTANCE_ID?: string;
  /** "true" turns limiting off (benchmarks measure the same stack with and without it). */
  RATE_LIMIT_DISABLED?: string;
}

export interface WorkerConfig {
  policies: CompiledPolicies;
  redisUrl: string;
  redisToken: string;
  checkToken: string | null;
  upstreamUrl: URL | null;
  instanceId: string | null;
  disabled: boolean;
}

/**
 * Validates the environment. Every error names the variable (or the policies field) and the reason.
 *
 * @example
 * const config = readConfig(env);
 * if (!config.ok) return new Response(config.error, { status: 500 });
 */
export function readConfig(env: Env): Result<WorkerConfig> {
  const policies = parsePolicies(env.POLICIES?.trim() ? env.POLICIES : DEFAULT_POLICIES_JSON);
  if (!policies.ok) return { ok: false, error: `POLICIES: ${policies.error}` };
  const redisUrl = env.UPSTASH_REDIS_REST_URL?.trim() ?? "";
  if (!/^https?:\/\/\S+$/.test(redisUrl)) {
    return {
      ok: false,
      error: `UPSTASH_REDIS_REST_URL: expected an http(s) URL, got ${JSON.stringify(redisUrl)}`,
    };
  }
  const redisToken = env.UPSTASH_REDIS_REST_TOKEN?.trim() ?? "";
  if (!redisToken) return { ok: false, error: "UPSTASH_REDIS_REST_TOKEN: missing (set it as a secret)" };
  let upstreamUrl: URL | null = null;
  if (env.UPSTREAM_URL?.trim()) {
    if (!URL.canParse(env.UPSTREAM_URL) || !/^https?:$/.test(new URL(env.UPSTREAM_URL).protocol)) {
      return {
        ok: false,
        error: `UPSTREAM_URL: expected an http(s) URL, got ${JSON.stringify(env.UPSTREAM_URL)}`,
      };
    }
    upstreamUrl = new URL(env.UPSTREAM_URL);
  }
  return {
    ok: true,
    value: {
      policies: policies.value,
      redisUrl,
      redisToken,
      checkToken: env.CHECK_API_TOKEN?.trim() || null,
      upstreamUrl,
      instanceId: env.INSTANCE_ID?.trim() || null,
      disabled: env.RATE_LIMIT_DISABLED === "true" || env.RATE_LIMIT_DISABLED === "1",
    },
  };
}
