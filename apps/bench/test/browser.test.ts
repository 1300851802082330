/**
 * The report and the web page in headless chromium (Debian's, driven by playwright-core; see
 * chromium.ts): the HTML report of the rows fixture renders from file:// with every chart drawn
 * and no console error; the bench web page (served by src/web/server.ts) loads cross-origin
 * isolated, runs quick suites on cpu and on WebGPU (SwiftShader) and a quick task, shows
 * progress, draws the charts, loads saved JSON rows, and logs no console error. The test saves a
 * screenshot of the page (results/bench-web.png). Without chromium the suite is skipped with the
 * reason; under TESSERA_REQUIRE_WEBGPU=1 (CI) a missing browser or adapter fails it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Row } from "../src/harness";
import { htmlReport } from "../src/html";
import { parseRows } from "../src/charts/specs";
import { startWebServer, type WebServer } from "../src/web/server";
import type { PageInfo, RunRequest } from "../src/web/page";
import { bounded, chartMarks, chromiumMissing, launch, openPage, REQUIRE } from "./chromium";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, "fixtures", "report-rows.json");
const SCREENSHOT = join(here, "..", "results", "bench-web.png");
const missing = chromiumMissing();
if (missing && !REQUIRE) console.warn(`[tessera] ${missing}`);

interface BenchApi {
  info(): Promise<PageInfo>;
  run(req: RunRequest): Promise<Row[]>;
}
const call = <T>(page: Page, fn: (api: BenchApi, arg: never) => Promise<T>, arg: unknown, ms: number, what: string): Promise<T> =>
  bounded(
    page.evaluate(([f, a]) => new Function("api", "arg", `return (${f})(api, arg)`)((globalThis as unknown as { tesseraBench: BenchApi }).tesseraBench, a), [
      fn.toString(),
      arg,
    ] as const) as Promise<T>,
    ms,
    what,
  );

describe.skipIf(missing !== null && !REQUIRE)("in chromium", () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-browser-"));
  beforeAll(async () => {
    if (missing) throw new Error(missing); // CI: a missing browser is a failure
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await bounded(browser?.close() ?? Promise.resolve(), 15_000, "browser.close").catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("renders the HTML report from file:// with every chart drawn and no console error", async () => {
    const rows = parseRows(JSON.parse(readFileSync(FIXTURE, "utf8")), "fixture");
    const file = join(dir, "report.html");
    writeFileSync(file, htmlReport(rows));
    const { page, errors } = await openPage(browser);
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    await page.waitForFunction(() => document.getElementById("report")?.dataset.charts === "8", undefined, { timeout: 30_000 });
    const marks = await chartMarks(page);
    expect(Object.keys(marks)).toEqual(["attention-time", "attention-memory", "ssm-time", "ssm-memory", "matmul-bars", "models-bars", "tasks-curves", "tasks-heatmap"]);
    // attention: 9 points + 1 crossover diamond (symbols), one line per series, one crossover label
    expect(marks["attention-time"]).toMatchObject({ symbol: 10, text: 1 });
    expect(marks["attention-time"].line).toBe(3);
    expect(marks["matmul-bars"]).toMatchObject({ rect: 5, text: 5 });
    expect(marks["tasks-heatmap"]).toMatchObject({ rect: 8, text: 8 });
    expect(marks["tasks-curves"].line).toBe(8); // one per mixer, per task x protocol panel
    expect(errors).toEqual([]);
  }, 60_000);

  describe("the bench web page", () => {
    let server: WebServer;
    let page: Page;
    let errors: string[];
    let info: PageInfo;
    beforeAll(async () => {
      server = await bounded(startWebServer(0), 90_000, "bundling and serving the page");
      ({ page, errors } = await openPage(browser, 1100));
      await page.goto(server.url, { waitUntil: "load" });
      await page.waitForFunction(() => "tesseraBench" in globalThis, undefined, { timeout: 30_000 });
      info = await call(page, (api) => api.info(), null, 30_000, "page info");
    }, 150_000);
    afterAll(async () => {
      await page?.close().catch(() => undefined);
      await server?.close();
    });

    it("is cross-origin isolated (the cpu backend gets threads) and finds the WebGPU adapter", () => {
      expect(info.crossOriginIsolated).toBe(true);
      if (!info.webgpu.adapter && !REQUIRE) console.warn(`[tessera] bench web page: WebGPU part skipped: ${info.webgpu.reason}`);
      else expect(info.webgpu.adapter, info.webgpu.reason).toBeTruthy();
    });

    it("runs matmul, attention and the quick task on cpu, then matmul on WebGPU, and draws the charts", async () => {
      const cpu = await call(page, (api, req) => api.run(req), { suites: ["matmul", "attention", "task"], backends: ["cpu"] }, 180_000, "cpu run");
      for (const r of cpu) expect(r.runs > 0 && !/failed|above/.test(r.note ?? ""), `${r.suite} ${r.case} ${r.impl}: ${r.note}`).toBe(true);
      expect(new Set(cpu.map((r) => r.suite))).toEqual(new Set(["matmul", "attention", "tasks"]));
      // The anchors a browser has: tfjs (wasm, cpu) and plain JS; onnxruntime-node is Node only.
      expect(new Set(cpu.filter((r) => r.suite === "matmul").map((r) => r.impl))).toEqual(new Set(["tessera", "tfjs-wasm", "tfjs-cpu", "plain-js"]));
      expect(cpu.filter((r) => r.suite === "tasks").every((r) => r.accuracy !== undefined && (r.curve?.length ?? 0) > 1)).toBe(true);
      let rows = cpu;
      if (info.webgpu.adapter || REQUIRE) {
        rows = await call(page, (api, req) => api.run(req), { suites: ["matmul"], backends: ["webgpu"], append: true }, 180_000, "webgpu run");
        const gpu = rows.filter((r) => r.backend === "webgpu");
        expect(gpu.map((r) => `${r.case} ${r.impl}`)).toEqual(["64x64x64 tessera", "128x128x128 tessera"]);
        for (const r of gpu) expect(r.runs > 0 && !/failed|above/.test(r.note ?? ""), `${r.case}: ${r.note}`).toBe(true);
      }
      // Progress ran to the end; the charts are drawn with their data.
      const [value, max] = await page.evaluate(() => {
        const p = document.getElementById("progress") as HTMLProgressElement;
        return [p.value, p.max];
      });
      expect(value).toBe(max);
      const marks = await chartMarks(page);
      expect(Object.keys(marks)).toEqual(["matmul-bars", "attention-time", "attention-memory", "tasks-curves", "tasks-heatmap"]);
      const matmulRows = rows.filter((r) => r.suite === "matmul").length;
      expect(marks["matmul-bars"].rect).toBe(matmulRows);
      expect(marks["attention-time"].symbol).toBeGreaterThanOrEqual(rows.filter((r) => r.suite === "attention").length);
      expect(marks["tasks-heatmap"].rect).toBe(4);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(errors).toEqual([]);
    }, 400_000);

    it("loads rows saved by the CLI from a file and draws their charts", async () => {
      await page.setInputFiles("#load", FIXTURE);
      await page.waitForFunction(
        () => /loaded 29 rows/.test(document.getElementById("status")?.textContent ?? "") && document.getElementById("report")?.dataset.charts === "8",
        undefined,
        {
          timeout: 30_000,
        },
      );
      expect(Object.keys(await chartMarks(page))).toHaveLength(8);
      expect(errors).toEqual([]);
    }, 60_000);
  });
});
