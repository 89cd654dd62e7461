import { defineConfig } from "vitest/config";
import { luaAsText } from "./local/support/lua-loader/vite.ts";

export default defineConfig({
  plugins: [luaAsText()],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start their own Redis, proxy, workerd and NGINX; on two cores, suites side by side would turn
    // each other's fail-mode and latency checks into a measure of CPU contention. One file at a time.
    fileParallelism: false,
  },
});
