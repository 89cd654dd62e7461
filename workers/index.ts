/** @module The package's public API (`edge-rate-limiter`): the Hono middleware, the limiter, policies, headers. */
export {
  type BucketClock,
  type BucketResult,
  forStockRedis,
  type LimitResult,
  type LimitSpec,
  type ScriptRunner,
  takeTokens,
} from "../lua";
export { type AppOptions, createApp } from "./app";
export { bindingLimit, decisionHeaders, RATE_LIMIT_HEADERS } from "./headers";
export { PROBLEM_TYPES } from "./http/problem";
export { identify } from "./identity";
export {
  type CheckOptions,
  createLimiter,
  type Decision,
  type DecisionReason,
  type DecisionSource,
  type Limiter,
  type LimiterOptions,
  type RedisLike,
} from "./limiter";
export { renderMetrics } from "./metrics";
export { deniedResponse, type RateLimitOptions, type RateLimitVariables, rateLimit } from "./middleware";
export {
  type CompiledPolicies,
  type CompiledPolicy,
  type CompiledRoute,
  DEFAULT_POLICIES,
  matchRoute,
  type PoliciesDocument,
  parsePolicies,
} from "./policies";
export type { Result } from "./result";
