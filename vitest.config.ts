import { defineConfig } from "vitest/config";
import { luaAsText } from "./local/lua-loader/vite.ts";

export default defineConfig({
  plugins: [luaAsText()],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start their own servers on free ports; two cores can't run many at once.
    maxWorkers: 2,
  },
});
