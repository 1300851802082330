/**
 * The one build configuration of every published package (tsup): ESM + CJS with .d.ts, source
 * maps, ES2022, tree-shaken. Each package's tsup.config.ts names its entry points.
 */
import { defineConfig, type Options } from "tsup";

export function packageConfig(entry: Record<string, string>, extra: Options = {}) {
  return defineConfig({
    entry,
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "es2022",
    treeshake: true,
    ...extra,
  });
}
