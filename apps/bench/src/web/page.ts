/**
 * The bench web page (bundled by server.ts with esbuild): runs the kernel suites at their quick
 * sizes on the cpu backend (WASM, threads when the page is cross-origin isolated) and on WebGPU
 * when navigator.gpu has an adapter, and a quick task (induction heads, on cpu); shows progress
 * while it runs and draws the same charts as the HTML report (charts/render.ts); loads JSON rows
 * saved by the CLI (`--json`) from a file. `window.tesseraBench` is what the browser test drives.
 */
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { renderSections } from "../charts/render";
import { ANCHORS, parseRows, reportSections } from "../charts/specs";
import { TIER_MEASURE, type Row } from "../harness";
import { progressLine } from "../report";
import type { Suite } from "../suite";
import { attentionSuite } from "../suites/attention";
import { matmulSuite } from "../suites/matmul";
import { opsSuite } from "../suites/ops";
import { tasksSuite } from "../suites/tasks";
import { cpuThreads, probeWebGPU, useBackend } from "./backends";

// tfjs's wasm backend fetches its .wasm files from here (server.ts serves them).
setWasmPaths(new URL("tfjs-wasm/", location.href).href);

/** What the page can run: the kernel suites at their quick sizes, and the quick task grid (cpu). */
export const WEB_SUITES: Record<string, Suite> = { ops: opsSuite, matmul: matmulSuite, attention: attentionSuite, task: tasksSuite };
export type WebBackend = "cpu" | "webgpu";

export interface RunRequest {
  suites: string[];
  backends: WebBackend[];
  /** Keep the rows already shown and add these (default: start afresh). */
  append?: boolean;
}

export interface PageInfo {
  crossOriginIsolated: boolean;
  webgpu: { adapter: string | null; reason: string };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let rows: Row[] = [];
let running = false;

/** onnxruntime-node needs Node; on WebGPU only Tessera's rows (the anchors ran on the cpu pass). */
const keepFor = (backend: WebBackend) => (impl: string) => impl !== "onnxruntime-node" && (backend === "cpu" || !ANCHORS.includes(impl));

function status(text: string): void {
  $("status").textContent = text;
}
function log(line: string): void {
  const pre = $("log");
  pre.textContent += `${line}\n`;
  pre.scrollTop = pre.scrollHeight;
}

async function draw(): Promise<void> {
  await renderSections($("report"), reportSections(rows));
}

/** Runs the request, drawing the charts after each suite; resolves with every row made. */
async function run(req: RunRequest): Promise<Row[]> {
  if (running) throw new Error("a run is already in progress");
  for (const s of req.suites) if (!(s in WEB_SUITES)) throw new Error(`unknown suite '${s}' (the page runs: ${Object.keys(WEB_SUITES).join(", ")})`);
  running = true;
  $<HTMLButtonElement>("run").disabled = true;
  // The controls show what runs (also when the run was asked for through window.tesseraBench).
  for (const box of document.querySelectorAll<HTMLInputElement>("input[name=suite]")) box.checked = req.suites.includes(box.value) || (!!req.append && box.checked);
  for (const box of document.querySelectorAll<HTMLInputElement>("input[name=backend]"))
    box.checked = req.backends.includes(box.value as WebBackend) || (!!req.append && box.checked);
  if (!req.append) {
    rows = [];
    $("log").textContent = "";
  }
  try {
    // The task trains on cpu (one pass); the kernel suites once per backend.
    const passes: { suite: string; backend: WebBackend }[] = [];
    for (const backend of req.backends) for (const s of req.suites) if (s !== "task") passes.push({ suite: s, backend });
    if (req.suites.includes("task")) passes.push({ suite: "task", backend: "cpu" });
    const plans = passes.map((p) => WEB_SUITES[p.suite].plan({ tier: "quick", backend: p.backend }).filter((r) => p.suite === "task" || keepFor(p.backend)(r.impl)));
    const total = plans.reduce((n, p) => n + p.length, 0);
    const bar = $<HTMLProgressElement>("progress");
    bar.max = total;
    bar.value = 0;
    let done = 0;
    for (const p of passes) {
      const suite = WEB_SUITES[p.suite];
      status(`${suite.name} on ${p.backend}: starting the backend`);
      await useBackend(p.backend);
      if (p.backend === "cpu") log(`cpu backend: WASM SIMD GEMM on ${cpuThreads} thread(s)`);
      log(`${suite.name} (${p.backend}): ${suite.description}`);
      const got = await suite.run({
        measure: TIER_MEASURE.quick,
        tier: "quick",
        quick: true,
        backend: p.backend,
        log,
        keepImpl: keepFor(p.backend),
        onRow: (r) => {
          const line = progressLine(++done, total, r);
          bar.value = done;
          status(line);
          log(line);
        },
      });
      rows.push(...got);
      await draw();
    }
    status(`done: ${rows.length} rows`);
    return rows;
  } catch (e) {
    status(`failed: ${(e as Error).message}`);
    throw e;
  } finally {
    running = false;
    $<HTMLButtonElement>("run").disabled = false;
  }
}

/** Shows rows saved by the CLI (`--json`); returns how many. */
async function load(text: string, source = "the file"): Promise<number> {
  rows = parseRows(JSON.parse(text), source);
  status(`loaded ${rows.length} rows from ${source}`);
  await draw();
  return rows.length;
}

async function start(): Promise<PageInfo> {
  const webgpu = await probeWebGPU();
  const info: PageInfo = { crossOriginIsolated: globalThis.crossOriginIsolated === true, webgpu };
  $("env").textContent =
    `cross-origin isolated: ${info.crossOriginIsolated ? "yes (the cpu backend runs on threads)" : "no (one thread)"}; WebGPU: ${webgpu.adapter ?? `none — ${webgpu.reason}`}`;
  const gpuBox = $<HTMLInputElement>("backend-webgpu");
  gpuBox.disabled = !webgpu.adapter;
  gpuBox.checked = !!webgpu.adapter;
  $<HTMLButtonElement>("run").onclick = () => {
    const suites = [...document.querySelectorAll<HTMLInputElement>("input[name=suite]:checked")].map((i) => i.value);
    const backends = [...document.querySelectorAll<HTMLInputElement>("input[name=backend]:checked")].map((i) => i.value as WebBackend);
    run({ suites, backends }).catch((e) => console.error(e));
  };
  $<HTMLInputElement>("load").onchange = async (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      await load(await file.text(), file.name);
    } catch (e) {
      status(`could not load ${file.name}: ${(e as Error).message}`);
    }
  };
  status("ready: pick suites and backends, then Run (or load a results JSON saved with --json)");
  return info;
}

const info = start();
(globalThis as unknown as { tesseraBench: unknown }).tesseraBench = { info: () => info, run, load, rows: () => rows };
