/** @module Node module hooks: `import src from "./x.lua"` yields the file's text, as wrangler and Vitest do. */
import { readFile } from "node:fs/promises";

export async function load(url, context, nextLoad) {
  if (!url.endsWith(".lua")) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  return { format: "module", source: `export default ${JSON.stringify(source)};`, shortCircuit: true };
}
