/** @module The demo page's server: index.html with the API URL injected, and the page script bundled with the client. */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { ECOSYSTEM, type EcosystemServer, startEcosystemServer } from "../ecosystem";

export interface DemoServer {
  /** The page: `${url}/` (also `${url}/demo`). */
  url: string;
  port: number;
  /** The dialect servers the page's selector offers besides the API. */
  dialects: DemoDialect[];
  /** 429s (and 503s) a dialect server sent for a key (`/demo-api/client`), by its own count. */
  throttled(id: string, key: string): number;
  stop(): Promise<void>;
}

const HTML_PATH = fileURLToPath(new URL("./index.html", import.meta.url));
const PAGE_ENTRY = fileURLToPath(new URL("./page.ts", import.meta.url));
const CONFIG_PLACEHOLDER = "/*DEMO_CONFIG*/null";

/** The page script and the client in one browser bundle, built in memory: the demo needs no build step. */
async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [PAGE_ENTRY],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    sourcemap: "inline",
    logLevel: "silent",
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("demo: esbuild produced no output for local/tools/demo/page.ts");
  return file.text;
}

/** One choice of the page's dialect selector: a server and the label a person sees. */
export interface DemoDialect {
  id: string;
  label: string;
  url: string;
}

/**
 * Starts every ecosystem server (10 requests per 2 s, as the demo's own bucket) for the page's dialect
 * selector. One whose packages are not installed (they are devDependencies) is left out, not fatal.
 */
async function startDialectServers(): Promise<EcosystemServer[]> {
  const started = await Promise.allSettled(ECOSYSTEM.map((e) => startEcosystemServer(e.kind)));
  return started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
}

/** JSON that can sit inside a <script> element: no `</script>` can end it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/**
 * Starts the demo page on `port` (default: a free one) on 127.0.0.1. The page calls `apiUrl` (another
 * origin: the API must list the page's origin in its `cors.origins`); `?api=<url>` on the page overrides it.
 * Unless `dialects` is false, it also starts the ecosystem's servers on free loopback ports (express-rate-limit
 * in each header mode, hono-rate-limiter, GitHub-style, header-less) for the page's dialect selector.
 *
 * @example
 * const demo = await startDemoServer({ apiUrl: "http://127.0.0.1:8080" });
 * console.log(`demo: ${demo.url}`);
 * await demo.stop();
 */
export async function startDemoServer(options: {
  apiUrl: string;
  port?: number;
  host?: string;
  dialects?: boolean;
}): Promise<DemoServer> {
  const [template, script, servers] = await Promise.all([
    readFile(HTML_PATH, "utf8"),
    bundlePage(),
    options.dialects === false ? [] : startDialectServers(),
  ]);
  const dialects: DemoDialect[] = servers.map((s) => ({
    id: s.entry.kind,
    label: s.entry.label,
    url: s.url,
  }));
  const html = template.replace(
    CONFIG_PLACEHOLDER,
    scriptJson({ apiUrl: options.apiUrl.replace(/\/+$/, ""), dialects }),
  );

  function route(method: string | undefined, path: string): { status: number; type: string; body: string } {
    if (method !== "GET" && method !== "HEAD")
      return { status: 405, type: "text/plain", body: "method not allowed\n" };
    if (path === "/" || path === "/demo" || path === "/index.html") {
      return { status: 200, type: "text/html; charset=utf-8", body: html };
    }
    if (path === "/demo.js") return { status: 200, type: "text/javascript; charset=utf-8", body: script };
    if (path === "/favicon.ico") return { status: 204, type: "image/x-icon", body: "" };
    return { status: 404, type: "text/plain", body: `not found: ${path}\n` };
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const { status, type, body } = route(req.method, new URL(req.url ?? "/", "http://demo").pathname);
    res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  const server = createServer(handle);
  const host = options.host ?? "127.0.0.1";
  const stopDialects = () => Promise.all(servers.map((s) => s.stop()));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  }).catch(async (error) => {
    await stopDialects();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    dialects,
    throttled: (id, key) => servers.find((s) => s.entry.kind === id)?.counts(key).throttled ?? 0,
    async stop() {
      server.closeAllConnections();
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), stopDialects()]);
    },
  };
}
