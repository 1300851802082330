import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests (and README blocks) run against the sources: the package's own entry points too.
    alias: [
      { find: /^@tessera\/tensor$/, replacement: src("index.ts") },
      { find: /^@tessera\/tensor\/node$/, replacement: src("io/node-entry.ts") },
      { find: /^@tessera\/tensor\/testing$/, replacement: src("testing/index.ts") },
      { find: /^@tessera\/tensor\/webgpu$/, replacement: src("webgpu.ts") },
      { find: /^@tessera\/tensor\/wasm$/, replacement: src("wasm.ts") },
      { find: /^@tessera\/tensor\/gpujs$/, replacement: src("gpujs.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
