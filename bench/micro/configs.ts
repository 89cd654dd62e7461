/** @module The microbenchmark's configurations: which app, which key, which REST client options; shared by the worker and the driver. */

/** Where the worker's REST client sends its calls: workerd routes every outbound fetch to the stub worker. */
export const STORE_URL = "http://store.micro";
export const STORE_TOKEN = "micro";

/** `@upstash/redis` options a configuration passes on top of `url` and `token`. */
export type ClientOptions = Record<string, boolean>;

/** One configuration of the README app. */
export interface MicroConfig {
  name: string;
  label: string;
  /** With `rateLimit` (false: the README app without the limiter). */
  limited: boolean;
  /** The `x-api-key` of every request: a fixed key, or a new one per request (`unique`). */
  key: string;
  /** `limiter`: the client the worker itself creates (workers/redis.ts); else options for `new Redis`. */
  client: "limiter" | ClientOptions;
  /**
   * How the store is reached: `inproc` answers the client's `fetch` inside the isolate (the client's and
   * limiter's CPU alone); `subrequest` is a real fetch to the stub worker (adds workerd's subrequest work).
   */
  store: "inproc" | "subrequest";
  /** The status every request must get. */
  status: number;
  /** Part of `npm run bench` (the others run with `npm run bench:micro -- --client-options`). */
  core: boolean;
}

/** What the README told users to pass before issue 23: auto-pipelining off, everything else default. */
export const README_BEFORE: ClientOptions = { enableAutoPipelining: false };

/** Options that cut the client's work per call, each measured alone on top of {@link README_BEFORE}. */
export const CHEAP_OPTIONS: ClientOptions = {
  responseEncoding: false,
  enableTelemetry: false,
  readYourWrites: false,
  automaticDeserialization: false,
};

/** What the README tells users to pass now: the cheap options on top of auto-pipelining off. */
export const CHEAP_CLIENT: ClientOptions = { ...README_BEFORE, ...CHEAP_OPTIONS };

function only(option: string): MicroConfig {
  return {
    name: `store-${option}`,
    label: `(d) store, defaults + ${option}: false`,
    limited: true,
    key: "unique",
    client: { ...README_BEFORE, [option]: false },
    store: "inproc",
    status: 200,
    core: false,
  };
}

/**
 * (a) the README app without the limiter, (b) a leased hot key, (c) a denied-cache 429, (d) a decision
 * the store makes (a new key per request), with the limiter's own client and with the client as the
 * README used to create it; then each cheap option alone.
 */
export const CONFIGS: readonly MicroConfig[] = [
  config("bare", "(a) no limiter", { limited: false }),
  config("lease", "(b) leased hot key", {}),
  config("denied", "(c) denied-cache 429", { key: "denied", status: 429 }),
  config("store", "(d) store-backed, cheap client options", { key: "unique", client: CHEAP_CLIENT }),
  config("store-defaults", "(d) store-backed, client defaults", { key: "unique", client: README_BEFORE }),
  config("store-subrequest", "(d) store-backed, cheap options, via a subrequest", {
    key: "unique",
    client: CHEAP_CLIENT,
    store: "subrequest",
  }),
  ...Object.keys(CHEAP_OPTIONS).map(only),
];

function config(name: string, label: string, overrides: Partial<MicroConfig>): MicroConfig {
  const defaults = { limited: true, key: "hot", client: "limiter", store: "inproc", status: 200, core: true };
  return { name, label, ...defaults, ...overrides } as MicroConfig;
}

/** One run of one configuration, as the worker reports it. */
export interface RunReport {
  config: string;
  n: number;
  /** Wall time inside the isolate spent in the app's `fetch`, summed over batches. */
  elapsedMs: number;
  usPerRequest: number;
  /** Requests whose status was not the configuration's. */
  unexpected: number;
  /** Decisions by source in this run (lease, redis, denied_cache, …). */
  sources: Record<string, number>;
}
