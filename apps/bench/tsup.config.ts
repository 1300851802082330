import { build } from "esbuild";
import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    cli: "src/cli.ts",
    "selective-copying": "src/accuracy/selective-copying.ts",
    // Task generators: tasks.js has no Node imports (browser-safe); tasks-node.js adds fashionMnist.
    tasks: "src/tasks/index.ts",
    "tasks-node": "src/tasks/node.ts",
    // The bench:web server (serves the page in src/web/, bundled at start).
    web: "src/web/server.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  // The shebang lives in src/cli.ts (the bin), so the library entries start without one.
  // The script the HTML report inlines: the chart renderer with vega, vega-lite and vega-embed, one minified file.
  onSuccess: async () => {
    await build({
      entryPoints: ["src/charts/report-page.ts"],
      outfile: "dist/report-page.js",
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "none",
      logLevel: "warning",
    });
  },
});
