/**
 * The Node side: bundles the page with esbuild, serves it, launches chromium with
 * playwright-core (no browser download: Debian's /usr/bin/chromium or TESSERA_CHROMIUM) and
 * runs page functions with a time bound, collecting console errors and uncaught exceptions.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { ORT_WEB_DIST } from "./ort-files";
import type { PageApi } from "./page/entry";
import { startServer, type Mode, type StaticServer } from "./server";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, "..", "..", "..");

/** The chromium binary: TESSERA_CHROMIUM, or Debian's. */
export const CHROMIUM = process.env.TESSERA_CHROMIUM || "/usr/bin/chromium";
/** CI sets TESSERA_REQUIRE_WEBGPU=1: a missing browser or WebGPU adapter is then a failure. */
export const REQUIRE = process.env.TESSERA_REQUIRE_WEBGPU === "1";

/**
 * Flags that give headless chromium a WebGPU adapter without a GPU: Dawn on Vulkan over
 * SwiftShader (Debian's chromium ships libvk_swiftshader; libvulkan1 is the loader).
 * playwright-core adds --headless and --no-sandbox itself (chromiumSandbox defaults to false).
 */
export const CHROMIUM_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader", "--use-webgpu-adapter=swiftshader"];
/** Extra flags from TESSERA_CHROMIUM_ARGS (space-separated; e.g. --disable-gpu shows the no-adapter path). */
const EXTRA_FLAGS = (process.env.TESSERA_CHROMIUM_ARGS ?? "").split(/\s+/).filter(Boolean);

export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  return `browser tests skipped: ${CHROMIUM} not found — apt-get install chromium libvulkan1 (set TESSERA_CHROMIUM to another binary)`;
}

/** Rejects with `what` timed out after `ms` (every wait in this suite is bounded). */
export async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function bundlePage(): Promise<string> {
  const r = await build({
    entryPoints: [join(here, "page", "entry.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return r.outputFiles[0].text;
}

/**
 * The browser examples of the READMEs (the ```js block of packages/tensor and of
 * packages/models), bundled as they are plus an exported `result()` (`result`: a JS expression
 * over the block's variables), so the suite runs the documented code. `replace` swaps a
 * placeholder (the model folder's URL) for the served fixture.
 */
export const README_BLOCKS: Record<string, { readme: string; result: string; replace: [string, string][] }> = {
  "readme-tensor.js": {
    readme: "packages/tensor/README.md",
    result: "({ backend: y.backend, values: Array.from(await y.data()) })",
    replace: [],
  },
  "readme-models.js": {
    readme: "packages/models/README.md",
    result: "({ backend: model.parameters()[0].backend, sequences })",
    replace: [['"/models/gpt2"', '"fixtures/hf/gpt2"']],
  },
};

export async function bundleReadmeBlocks(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, b] of Object.entries(README_BLOCKS)) {
    const text = readFileSync(join(repoRoot, b.readme), "utf8");
    const blocks = [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    if (blocks.length !== 1) throw new Error(`${b.readme}: expected one \`\`\`js block (the browser example), found ${blocks.length}`);
    let code = blocks[0];
    for (const [from, to] of b.replace) {
      if (!code.includes(from)) throw new Error(`${b.readme}: the browser example no longer contains ${from}`);
      code = code.replace(from, to);
    }
    const r = await build({
      stdin: { contents: `${code}\nexport const result = async () => ${b.result};\n`, resolveDir: join(here, "page"), sourcefile: `${b.readme} (js block)`, loader: "js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    out[`/${name}`] = r.outputFiles[0].text;
  }
  return out;
}

const HTML = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tessera</title><script type="module" src="bundle.js"></script>`;

/** A page in one mode, with its console errors and uncaught exceptions. */
export interface TestPage {
  readonly mode: Mode;
  readonly page: Page;
  readonly errors: string[];
  /** Calls window.tessera[fn](...args) in the page, bounded by `ms`. */
  call<K extends keyof PageApi>(fn: K, args: Parameters<PageApi[K]>, ms?: number): Promise<Awaited<ReturnType<PageApi[K]>>>;
  /** Imports a served module in the page and returns what its `result()` resolves to (bounded by `ms`). */
  importResult<T>(path: string, ms?: number): Promise<T>;
  /** Dedicated workers the page runs now (the cpu backend's WASM thread pool). */
  workers(): number;
}

export interface Session {
  browser: Browser;
  server: StaticServer;
  open(mode: Mode): Promise<TestPage>;
  close(): Promise<void>;
}

/** `extraFiles`: more in-memory files to serve (the exported ONNX graphs); `/ort/` serves onnxruntime-web's dist. */
export async function startSession(extraFiles: Record<string, { body: string | Uint8Array }> = {}): Promise<Session> {
  const bundle = await bounded(bundlePage(), 60_000, "esbuild bundle");
  const readme = await bounded(bundleReadmeBlocks(), 60_000, "esbuild bundle of the README examples");
  const server = await startServer(
    { "/index.html": { body: HTML }, "/bundle.js": { body: bundle }, ...Object.fromEntries(Object.entries(readme).map(([k, v]) => [k, { body: v }])), ...extraFiles },
    { "/fixtures/": join(repoRoot, "fixtures"), "/ort/": ORT_WEB_DIST },
  );
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, ...EXTRA_FLAGS], timeout: 30_000 });
  } catch (e) {
    await server.close();
    throw e;
  }
  const open = async (mode: Mode): Promise<TestPage> => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
    page.on("crash", () => errors.push("the page crashed"));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    await page.goto(server.url(mode, "index.html"), { waitUntil: "load", timeout: 30_000 });
    await page.waitForFunction(() => "tessera" in globalThis, undefined, { timeout: 30_000 });
    return {
      mode,
      page,
      errors,
      call: (fn, args, ms = 60_000) =>
        bounded(
          page.evaluate(([f, a]) => (globalThis as unknown as { tessera: Record<string, (...x: unknown[]) => unknown> }).tessera[f](...(a as unknown[])), [
            fn,
            args,
          ] as const) as Promise<never>,
          ms,
          `${mode} page: ${fn}()`,
        ),
      importResult: <T>(path: string, ms = 60_000) =>
        bounded(
          // A string: vitest rewrites import() inside functions, and this runs in the page.
          page.evaluate(`import(new URL(${JSON.stringify(path)}, location.href).href).then((m) => m.result())`) as Promise<T>,
          ms,
          `${mode} page: import ${path}`,
        ),
      workers: () => page.workers().length,
    };
  };
  return {
    browser,
    server,
    open,
    close: async () => {
      await bounded(browser.close(), 15_000, "browser.close").catch(() => undefined); // playwright kills the process when Node exits
      await server.close();
    },
  };
}
