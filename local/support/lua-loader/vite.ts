/** @module Build-time plugins that import `.lua` files as the shipped (minified) text, so the script is never a copied string. */
import { readFile } from "node:fs/promises";
import { minifyLua } from "./minify.mjs";

/** The module a bundler gets for a `.lua` file: its minified text as the default export. */
async function luaModule(path: string): Promise<string> {
  return `export default ${JSON.stringify(minifyLua(await readFile(path, "utf8")))};`;
}

/**
 * A Vite/Vitest plugin: `import src from "./x.lua"` yields the script as shipped, so the Lua suites
 * test the very text the package carries.
 *
 * @example
 * // vitest.config.ts
 * export default defineConfig({ plugins: [luaAsText()] });
 */
export function luaAsText() {
  return {
    name: "lua-as-text",
    async load(id: string) {
      return id.endsWith(".lua") ? luaModule(id) : null;
    },
  };
}

/**
 * The same for esbuild (the package build).
 *
 * @example
 * await build({ entryPoints: ["workers/index.ts"], bundle: true, plugins: [luaAsTextForEsbuild()] });
 */
export function luaAsTextForEsbuild() {
  return {
    name: "lua-as-text",
    setup(build: {
      onLoad(
        options: { filter: RegExp },
        load: (args: { path: string }) => Promise<{ contents: string; loader: "js" }>,
      ): void;
    }) {
      build.onLoad({ filter: /\.lua$/ }, async function loadLua(args) {
        return { contents: await luaModule(args.path), loader: "js" };
      });
    },
  };
}
