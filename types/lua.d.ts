/** Lua scripts are imported as text: the bundler (wrangler, esbuild, vitest) inlines the file. */
declare module "*.lua" {
  const source: string;
  export default source;
}
