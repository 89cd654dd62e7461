/** @module Public API of the Upstash-compatible Redis REST proxy (used by the CLI, the stack, tests and benchmarks). */
export {
  type ClusterSeeds,
  CROSSSLOT_MESSAGE,
  commandKeys,
  keySlot,
  parseSeeds,
  routeOf,
} from "./cluster-routing";
export { checkCommand, parseCommand, parseCommandList, type RedisCommand, type Result } from "./commands";
export { encodeReply, type JsonReply } from "./encoding";
export {
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_STREAMS,
  DEFAULT_PORT,
  DEFAULT_REDIS_CONNECTIONS,
  DEFAULT_TIMEOUT_MS,
  isLoopbackHost,
  type ProxyOptions,
  redactRedisUrl,
  resolveProxyOptions,
} from "./options";
export { parsePathCommand } from "./path-commands";
export { createScriptFlagRewriter, stripShebangFlags } from "./script-flags";
export { createProxyServer, type ProxyServer, type RunningProxy, startProxy } from "./server";
export { sseFrame } from "./sse";
export { type Access, checkReadOnly, createAccessCheck, queryToken } from "./tokens";
export { guardScript } from "./upstash-guard";
export { createUpstashScripts, KEY_LOCKING_FLAG, type UpstashScripts } from "./upstash-scripts";
