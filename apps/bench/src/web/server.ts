/**
 * `npm run bench:web`: serves the bench web page on 127.0.0.1 (the page: page.ts, bundled with
 * esbuild when the server starts). Every response carries Cross-Origin-Opener-Policy and
 * Cross-Origin-Embedder-Policy, so the page is cross-origin isolated and the cpu backend (and
 * tfjs-wasm) get their WASM threads. Prints the URL; Ctrl-C stops it.
 *   node dist/web.js [--port N]     (default: a free port)
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { STYLE } from "../charts/render";

const here = dirname(fileURLToPath(import.meta.url));
/** src/ (the page's sources), from src/web/ (tests) or dist/ (the built server). */
const SRC = [join(here, ".."), join(here, "..", "src")].find((d) => d.endsWith("src")) ?? join(here, "..", "src");
const TFJS_WASM = join(dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");

export const ISOLATION_HEADERS: Record<string, string> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/**
 * The Node-only modules the page's imports reach, swapped for browser ones: onnxruntime-node
 * (a native addon), the Node backends (Dawn, gpu.js) and the Fashion-MNIST file reader.
 */
const BROWSER_SWAPS: Record<string, string> = {
  "anchors/ort": "web/stubs/ort.ts",
  backends: "web/backends.ts",
  "tasks/node": "web/stubs/tasks-node.ts",
};

const swapNodeModules: Plugin = {
  name: "tessera-bench-browser-swaps",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/(.*\/)?(anchors\/ort|backends|tasks\/node|node)$/ }, (args) => {
      const full = resolve(args.resolveDir, args.path);
      for (const [from, to] of Object.entries(BROWSER_SWAPS)) if (full === join(SRC, from)) return { path: join(SRC, to) };
      return undefined;
    });
  },
};

/** The page's script: page.ts and everything it imports, for the browser. */
export async function bundleWebPage(): Promise<string> {
  const r = await build({
    entryPoints: [join(SRC, "web", "page.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
    plugins: [swapNodeModules],
  });
  return r.outputFiles[0].text;
}

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera bench in the browser</title>
<link rel="icon" href="data:,">
<style>${STYLE}
.controls { display: flex; flex-wrap: wrap; gap: 6px 22px; align-items: center; margin: 10px 0; }
.controls fieldset { border: 1px solid #ddd; padding: 4px 10px; }
#progress { width: 100%; height: 14px; }
#status { font-family: ui-monospace, monospace; font-size: 12px; min-height: 1.4em; }
#log { max-height: 160px; overflow-y: auto; }
</style>
</head>
<body>
<h1>Tessera bench in the browser</h1>
<p class="meta" id="env">starting…</p>
<div class="controls">
  <fieldset><legend>suites (quick sizes)</legend>
    <label><input type="checkbox" name="suite" value="ops" checked> ops</label>
    <label><input type="checkbox" name="suite" value="matmul" checked> matmul</label>
    <label><input type="checkbox" name="suite" value="attention" checked> attention</label>
    <label><input type="checkbox" name="suite" value="task"> task (induction heads, cpu)</label>
  </fieldset>
  <fieldset><legend>backends</legend>
    <label><input type="checkbox" name="backend" value="cpu" checked> cpu (WASM)</label>
    <label><input type="checkbox" name="backend" value="webgpu" id="backend-webgpu"> WebGPU</label>
  </fieldset>
  <button id="run">Run</button>
  <label>or load results saved with --json: <input type="file" id="load" accept=".json,application/json"></label>
</div>
<progress id="progress" value="0" max="1"></progress>
<div id="status"></div>
<details><summary>log</summary><pre id="log"></pre></details>
<main id="report"></main>
<script type="module" src="page.js"></script>
</body>
</html>
`;

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the page on 127.0.0.1:`port` (0: a free one). */
export async function startWebServer(port = 0): Promise<WebServer> {
  const script = await bundleWebPage();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const send = (status: number, body: string | Uint8Array, type: string) => {
      res.writeHead(status, { ...ISOLATION_HEADERS, "Content-Type": type, "Cache-Control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "GET only", "text/plain");
    if (path === "/" || path === "/index.html") return send(200, PAGE_HTML, "text/html; charset=utf-8");
    if (path === "/page.js") return send(200, script, "text/javascript; charset=utf-8");
    const wasm = /^\/tfjs-wasm\/(tfjs-backend-wasm[a-z-]*\.wasm)$/.exec(path);
    if (wasm) return send(200, new Uint8Array(await readFile(join(TFJS_WASM, wasm[1]))), "application/wasm");
    return send(404, "not found", "text/plain");
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(String((e as Error).message));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => ok());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () =>
      new Promise<void>((ok) => {
        const t = setTimeout(ok, 5_000); // never hang on a lingering connection
        server.closeAllConnections();
        server.close(() => {
          clearTimeout(t);
          ok();
        });
      }),
  };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`--port: expected a port number, got ${process.argv[i + 1]}`);
  console.log("bundling the page…");
  const server = await startWebServer(port);
  console.log(`tessera bench web page: ${server.url}  (Ctrl-C stops it)`);
  const stop = () => {
    console.log("\nstopping");
    server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && /web\.(js|ts)$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
