/** @module The dev tools wing: `npm run dev` (wrangler dev with a private Redis and proxy) and the backoff demo page. */
/**
 * # The dev tools wing
 *
 * Tools for someone working on the worker or showing it, not parts of the stack's topology.
 *
 * | folder | what it does |
 * |---|---|
 * | `dev/` | `npm run dev`: `wrangler dev` on the worker's source, with a private Redis and the REST proxy |
 * | `demo/` | the demo page: bursts with plain `fetch` next to bursts with the backoff client; its routes and policies |
 *
 * `npm start` serves the demo page next to the gateway (`--demo-port`); `local/tools/demo/cli.ts` serves it
 * alone for a stack that is already running.
 *
 * @example
 * import { startDev } from "../local/tools";
 * const dev = await startDev({ port: 0 });
 * await dev.stop();
 */
export { type DemoServer, startDemoServer } from "./demo";
export { DEMO_POLICIES, DEMO_ROUTES, withDemo } from "./demo/policies";
export { type DevOptions, type DevSession, dotenvLine, startDev } from "./dev";
