/** @module Node module hooks: `import src from "./x.lua"` yields the script as shipped (minified), as the package build and Vitest do. */
import { readFile } from "node:fs/promises";
import { minifyLua } from "./minify.mjs";

export async function load(url, context, nextLoad) {
  if (!url.endsWith(".lua")) return nextLoad(url, context);
  const source = minifyLua(await readFile(new URL(url), "utf8"));
  return { format: "module", source: `export default ${JSON.stringify(source)};`, shortCircuit: true };
}
