import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    cli: "src/cli.ts",
    "selective-copying": "src/accuracy/selective-copying.ts",
    // Task generators: tasks.js has no Node imports (browser-safe); tasks-node.js adds fashionMnist.
    tasks: "src/tasks/index.ts",
    "tasks-node": "src/tasks/node.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  // The shebang lives in src/cli.ts (the bin), so the library entries start without one.
});
