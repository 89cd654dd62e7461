/** @module Build-time plugins that import `.lua` files as text, so the script is never a copied string. */
import { readFile } from "node:fs/promises";

/**
 * A Vite/Vitest plugin: `import src from "./x.lua"` yields the file's text.
 *
 * @example
 * // vitest.config.ts
 * export default defineConfig({ plugins: [luaAsText()] });
 */
export function luaAsText() {
  return {
    name: "lua-as-text",
    async load(id: string) {
      if (!id.endsWith(".lua")) return null;
      const source = await readFile(id, "utf8");
      return `export default ${JSON.stringify(source)};`;
    },
  };
}
