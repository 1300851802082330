import { defineConfig } from "tsup";

export default defineConfig({
  entry: { cli: "src/cli.ts", "selective-copying": "src/accuracy/selective-copying.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  banner: { js: "#!/usr/bin/env node" },
});
