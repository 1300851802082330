import { defineConfig } from "vitest/config";

// Runs against the packages' built dist/ (turbo builds them first), as a browser bundler would.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
