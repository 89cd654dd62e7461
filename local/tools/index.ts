/** @module The dev tools wing: `npm run dev` (wrangler dev with a private Redis and proxy), the backoff demo page and the ecosystem's rate-limited servers. */
/**
 * # The dev tools wing
 *
 * Tools for someone working on the worker or showing it, not parts of the stack's topology.
 *
 * | folder | what it does |
 * |---|---|
 * | `dev/` | `npm run dev`: `wrangler dev` on the worker's source, with a private Redis and the REST proxy |
 * | `demo/` | the demo page: bursts with plain `fetch` next to bursts with the backoff client, against our API or any dialect; its routes and policies |
 * | `ecosystem/` | servers limited as the ecosystem does it (express-rate-limit in each header mode, hono-rate-limiter, GitHub-style, header-less), for the client's suites and the demo's dialect selector |
 *
 * `npm start` serves the demo page next to the gateway (`--demo-port`); `local/tools/demo/cli.ts` serves it
 * alone for a stack that is already running.
 *
 * @example
 * import { startDev } from "../local/tools";
 * const dev = await startDev({ port: 0 });
 * await dev.stop();
 */
export { type DemoDialect, type DemoServer, startDemoServer } from "./demo";
export { DEMO_POLICIES, DEMO_ROUTES, withDemo } from "./demo/policies";
export { type DevOptions, type DevSession, dotenvLine, startDev } from "./dev";
export {
  ECOSYSTEM,
  type EcosystemEntry,
  type EcosystemKind,
  type EcosystemServer,
  startEcosystemServer,
} from "./ecosystem";
