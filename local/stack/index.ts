/** @module The stack wing: `npm start`'s launcher, its supervisor and the runners of its parts (edge instances, the NGINX gateway). */
/**
 * # The stack wing
 *
 * `npm start` runs one topology on loopback: Redis → the REST proxy → N edges (workerd instances of the
 * bundled worker) → the gateway (NGINX, round robin). This wing starts it, watches it and stops it.
 *
 * | file / folder | what it does |
 * |---|---|
 * | `cli.ts` | the launcher: flags, build, status table, signals (`npm start`) |
 * | `start.ts` | `startStack`: starts the parts in order and hands them to the supervisor |
 * | `supervisor.ts` | restarts a part that dies (bounded), stops every part in order |
 * | `edge/` | runs the bundled worker in workerd through Miniflare, on a direct socket (an edge) |
 * | `gateway/` | renders `nginx/nginx.conf.template` and runs NGINX in the foreground (the gateway) |
 *
 * The NGINX configuration itself lives in `nginx/` at the top of the repository; how each Node part is
 * spawned as a process is shared with the dev tools and the tests (`local/support/launch`).
 *
 * @example
 * import { startStack } from "../local/stack";
 * const stack = await startStack({ port: 0, instances: 2 });
 * await fetch(`${stack.url}/healthz`);
 * await stack.stop();
 */
export { type EdgeInstance, startEdge, WORKER_BUNDLE } from "./edge";
export { type GatewayOptions, renderNginxConfig, startNginx } from "./gateway";
export { type Stack, type StackOptions, startStack } from "./start";
export { type PartSpec, type PartStatus, Supervisor } from "./supervisor";
