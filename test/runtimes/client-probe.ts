/** @module `edge-rate-limiter/client` run inside each runtime (from the packed package) against a server's limited route. */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { EdgeRuntime } from "edge-runtime";
import { transform } from "esbuild";
import { Miniflare } from "miniflare";
import { REPO_ROOT } from "../../local/support";
import { bundle, type RuntimeName } from "./servers";

/** What the probe reports: each call's status and what the client read from the last response. */
export interface ProbeReport {
  statuses: number[];
  limits: [name: string, remaining: number, quota: number | null][];
  retryAfter: boolean;
}

// Six GETs through the backoff fetch. `maxWait: 0`: a request the client would hold is sent at once and
// the server's 429 comes back as it is, so the probe takes no longer than six requests.
const PROBE = `import { createBackoffFetch, readRateLimitInfo } from "edge-rate-limiter/client";
export async function probe(url: string, key: string) {
  const api = createBackoffFetch({ maxWait: 0, retries: 0 });
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 6; i++) {
    last = await api(url, { headers: { "x-api-key": key } });
    statuses.push(last.status);
    await last.arrayBuffer();
  }
  const info = readRateLimitInfo(last!.headers);
  return {
    statuses,
    limits: info.limits.map((l) => [l.name, l.remaining, l.quota ?? null]),
    retryAfter: info.retryAfterMs !== null,
  };
}
`;

const ENTRIES = {
  // Deno and Bun run TypeScript as it is.
  main: `import { probe } from "./probe.ts";
const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
console.log(JSON.stringify(await probe(args[0], args[1])));
`,
  node: `import { probe } from "./probe.js";
console.log(JSON.stringify(await probe(process.argv[2], process.argv[3])));
`,
  worker: `import { probe } from "./probe.ts";
export default {
  async fetch(request: Request) {
    const q = new URL(request.url).searchParams;
    return Response.json(await probe(q.get("url")!, q.get("key")!));
  },
};
`,
  edge: `import { probe } from "./probe.ts";
addEventListener("fetch", (event) => {
  const q = new URL(event.request.url).searchParams;
  event.respondWith(probe(q.get("url")!, q.get("key")!).then((r) => Response.json(r)));
});
`,
} as const;

const run = promisify(execFile);

async function inChild(
  name: RuntimeName,
  dir: string,
  query: string,
  env: NodeJS.ProcessEnv = {},
): Promise<unknown> {
  const [url, key] = new URLSearchParams(query).values();
  const bin = join(REPO_ROOT, "node_modules", ".bin", name);
  const command =
    name === "node" ? [process.execPath, "probe-node.mjs"] : [bin, name === "deno" ? "run" : "--no-install"];
  const script =
    name === "node"
      ? []
      : name === "deno"
        ? ["--allow-net", "--allow-env", "--allow-read", "probe-main.ts"]
        : ["probe-main.ts"];
  const [file, ...args] = [...command, ...script, url as string, key as string];
  const { stdout } = await run(file as string, args, {
    cwd: dir,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

/**
 * Runs the client probe inside `runtime` against `url` (a route the README example limits), as `key`.
 *
 * @example
 * const report = await probeClient("bun", app.dir, `${server.url}/api/hello`, "bun-client");
 */
export async function probeClient(runtime: RuntimeName, dir: string, url: string, key: string) {
  writeFileSync(join(dir, "probe.ts"), PROBE);
  const query = new URLSearchParams({ url, key }).toString();
  switch (runtime) {
    case "workerd": {
      writeFileSync(join(dir, "probe-worker.ts"), ENTRIES.worker);
      const script = await bundle(dir, "probe-worker.ts", ["workerd", "worker", "browser"], "esm");
      const mf = new Miniflare({ script, modules: true, compatibilityDate: "2026-04-01" });
      try {
        return (await (await mf.dispatchFetch(`http://probe/?${query}`)).json()) as ProbeReport;
      } finally {
        await mf.dispose();
      }
    }
    case "edge-runtime": {
      writeFileSync(join(dir, "probe-edge.ts"), ENTRIES.edge);
      const initialCode = await bundle(dir, "probe-edge.ts", ["edge-light", "worker", "browser"], "iife");
      const edge = new EdgeRuntime({ initialCode });
      return (await (await edge.dispatchFetch(`http://probe/?${query}`)).json()) as ProbeReport;
    }
    case "node": {
      const compiled = await transform(PROBE, { loader: "ts", format: "esm", target: "node20" });
      writeFileSync(join(dir, "probe.js"), compiled.code);
      writeFileSync(join(dir, "probe-node.mjs"), ENTRIES.node);
      return (await inChild(runtime, dir, query)) as ProbeReport;
    }
    case "deno":
      writeFileSync(join(dir, "probe-main.ts"), ENTRIES.main);
      return (await inChild(runtime, dir, query, {
        DENO_DIR: join(dir, ".deno"),
        DENO_NO_UPDATE_CHECK: "1",
      })) as ProbeReport;
    case "bun":
      writeFileSync(join(dir, "probe-main.ts"), ENTRIES.main);
      return (await inChild(runtime, dir, query)) as ProbeReport;
  }
}
