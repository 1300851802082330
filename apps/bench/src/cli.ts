#!/usr/bin/env node
/**
 * tessera-bench [suite...] [--json FILE] [--html FILE] [--backend cpu] [--quick | --full] [--runs N] [--budget MS]
 * tessera-bench report RESULTS.json... --html FILE
 * Runs the suites (default: all) at representative sizes (`--full`: the largest shapes, long;
 * `--quick`: small ones), prints a progress line as each measurement finishes and each suite's
 * table of medians and ratios (measured side by side in one run) as soon as that suite ends, and
 * optionally writes the rows as JSON and an HTML report with charts (`report`: the HTML report of
 * saved rows, no run).
 * tessera-bench accuracy <experiment...> [--quick] [--json FILE]: the accuracy experiments
 * (./accuracy-cli.ts), run only by name.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { cpus } from "node:os";
import { writeFilesAtomic } from "@tessera/tensor/node";
import { wasmFeatures } from "@tessera/tensor/wasm";
import { ACCURACY_USAGE, parseAccuracyArgs, runAccuracy } from "./accuracy-cli";
import { cpuKernels, cpuKernelsNote, cpuThreads, setCpuKernelChoice, useBackend } from "./backends";
import { TIER_MEASURE, type Row, type Tier } from "./harness";
import { parseRows } from "./charts/specs";
import { writeHtmlReport } from "./html";
import { formatTable, formatWall, LEGEND, progressLine } from "./report";
import type { Suite } from "./suite";
import { ALL_SUITES, SUITES } from "./suites/index";
import { PRETRAINS, type Pretrain } from "./accuracy/runner";

export interface CliOptions {
  suites: string[];
  json?: string;
  /** Write the HTML report (charts) here. */
  html?: string;
  /** `report FILE...`: no run; the HTML report of these saved JSON rows. */
  report?: string[];
  backend: string;
  quick: boolean;
  /** The largest shapes (the long run); exclusive with `quick`. */
  full?: boolean;
  runs?: number;
  budget?: number;
  /** The tasks suite's self-pretraining columns (none, causal, masked). */
  pretrain?: string[];
  /** The cpu backend's float32 GEMM and element-wise kernels: native (@tessera/native, when built; default) or wasm. */
  cpuKernels?: "native" | "wasm";
}

export function tierOf(opts: Pick<CliOptions, "quick" | "full">): Tier {
  return opts.quick ? "quick" : opts.full ? "full" : "default";
}

export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { suites: [], backend: "cpu", quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (i === 0 && a === "report") opts.report = [];
    else if (a === "--json") opts.json = value();
    else if (a === "--html") opts.html = value();
    else if (a === "--backend") opts.backend = value();
    else if (a === "--quick") opts.quick = true;
    else if (a === "--full") opts.full = true;
    else if (a === "--runs") opts.runs = Number(value());
    else if (a === "--budget") opts.budget = Number(value());
    else if (a === "--pretrain") opts.pretrain = value().split(",");
    else if (a === "--cpu-kernels") {
      const g = value();
      if (g !== "native" && g !== "wasm") throw new Error(`--cpu-kernels: expected native or wasm, got '${g}'`);
      opts.cpuKernels = g;
    } else if (a === "--help" || a === "-h") throw new Error("help");
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else if (opts.report) opts.report.push(a);
    else opts.suites.push(a);
  }
  if (opts.report) {
    if (!opts.report.length) throw new Error("report needs the JSON files written by --json (tessera-bench report results.json --html report.html)");
    if (!opts.html) throw new Error("report needs --html FILE (where to write the report)");
    return opts;
  }
  if (opts.quick && opts.full) throw new Error("--quick and --full exclude each other");
  for (const p of opts.pretrain ?? []) if (!PRETRAINS.includes(p as Pretrain)) throw new Error(`--pretrain: unknown column '${p}' (columns: ${PRETRAINS.join(", ")})`);
  const known = ALL_SUITES.map((s) => s.name);
  for (const s of opts.suites) if (!known.includes(s)) throw new Error(`unknown suite '${s}' (suites: ${known.join(", ")})`);
  return opts;
}

export interface BenchHooks {
  /** Called as each suite ends, with its rows and its wall time. */
  onSuite?: (suite: Suite, rows: Row[], ms: number) => void;
}

export async function runBench(opts: CliOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`), hooks: BenchHooks = {}): Promise<Row[]> {
  if (opts.cpuKernels) setCpuKernelChoice(opts.cpuKernels);
  await useBackend(opts.backend);
  if (opts.backend === "cpu") {
    const f = wasmFeatures();
    const relaxed = f.relaxedSimd
      ? "relaxed SIMD (fused multiply-add) builds"
      : f.relaxedSimdSupported
        ? "SIMD128 builds (relaxed SIMD turned off)"
        : "SIMD128 builds (no relaxed SIMD here)";
    const gemm =
      cpuKernels === "wasm"
        ? `WASM SIMD kernels on ${cpuThreads} thread(s)${cpuKernelsNote ? ` (native kernels unavailable: ${cpuKernelsNote})` : ""}`
        : `float32 GEMM, element-wise ops and attention forward ${cpuKernels} (@tessera/native), the other kernels WASM SIMD on ${cpuThreads} thread(s)`;
    log(`cpu backend: ${gemm}; kernels with a relaxed variant: ${relaxed}`);
  }
  const tier = tierOf(opts);
  const measure = { ...TIER_MEASURE[tier], ...(opts.runs ? { minRuns: opts.runs } : {}), ...(opts.budget ? { budgetMs: opts.budget } : {}) };
  const suites = opts.suites.length === 0 ? SUITES : ALL_SUITES.filter((s) => opts.suites.includes(s.name));
  const total = suites.reduce((n, s) => n + s.plan({ tier, backend: opts.backend, pretrain: opts.pretrain }).length, 0);
  log(
    `${total} ${suites.every((s) => s.name === "tasks") ? "training runs" : "measurements"} in ${suites.length} suite(s), ${tier} sizes${tier === "default" ? " (--full: the largest shapes, long; --quick: small ones)" : ""}`,
  );
  let done = 0;
  const rows: Row[] = [];
  for (const suite of suites) {
    log(`${suite.name}: ${suite.description}`);
    const t0 = performance.now();
    const got = await suite.run({ measure, tier, quick: tier === "quick", backend: opts.backend, pretrain: opts.pretrain, log, onRow: (r) => log(progressLine(++done, total, r)) });
    hooks.onSuite?.(suite, got, performance.now() - t0);
    rows.push(...got);
  }
  if (done !== total) log(`(${done} measurements made, ${total} planned)`);
  return rows;
}

const USAGE = `usage: tessera-bench [suite...] [--json FILE] [--html FILE] [--backend NAME] [--quick | --full] [--runs N] [--budget MS] [--cpu-kernels native|wasm]
       tessera-bench report RESULTS.json... --html FILE
  --json FILE: the rows as JSON; --html FILE: a self-contained report with charts (opens offline)
  report: the HTML report of rows saved with --json (several files are merged)
  no option: representative sizes, every suite in 3-4 minutes on 2 cores
  --full: the largest shapes (tens of minutes; attention at T = 8192 needs ~9 GiB)
  --quick: small shapes, a smoke run in seconds
  --cpu-kernels: the cpu backend's float32 GEMM, element-wise and attention-forward kernels: native (@tessera/native's addon, the default where it built) or wasm
  accuracy <experiment...>: the masked pre-training experiments (tessera-bench accuracy --help)
  tasks (only when named): the accuracy grid; default ListOps and MQAR x 13 mixers x {none, causal} (52 runs, ~10-15 min on 2 cores), --full all six tasks (156 runs), --quick 4 tiny runs;
    --pretrain LIST: its self-pretraining columns, from none,causal,masked (default none,causal)
suites: ${ALL_SUITES.map((s) => `${s.name} (${s.description})`).join("; ")}`;

async function accuracyMain(argv: string[]): Promise<void> {
  let o: ReturnType<typeof parseAccuracyArgs>;
  try {
    o = parseAccuracyArgs(argv);
  } catch (e) {
    const msg = (e as Error).message;
    console.error(msg === "help" ? ACCURACY_USAGE : `${msg}\n${ACCURACY_USAGE}`);
    process.exit(msg === "help" ? 0 : 2);
  }
  await runAccuracy(o);
}

async function main(): Promise<void> {
  if (process.argv[2] === "accuracy") return accuracyMain(process.argv.slice(3));
  let opts: CliOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    const msg = (e as Error).message;
    console.error(msg === "help" ? USAGE : `${msg}\n${USAGE}`);
    process.exit(msg === "help" ? 0 : 2);
  }
  if (opts.report) {
    const rows = opts.report.flatMap((f) => parseRows(JSON.parse(readFileSync(f, "utf8")), f));
    writeHtmlReport(opts.html!, rows, { subtitle: `${rows.length} rows from ${opts.report.map((f) => basename(f)).join(", ")}` });
    console.log(`wrote the report of ${rows.length} rows to ${opts.html}`);
    return;
  }
  const start = performance.now();
  const c = cpus();
  const header = `node ${process.version}, ${c[0]?.model ?? "cpu"} x${c.length}, ${opts.backend} backend, ${tierOf(opts)} sizes, ${new Date().toISOString()}`;
  console.log(`tessera-bench  node ${process.version}  ${c[0]?.model ?? "cpu"} x${c.length}  ${tierOf(opts)} sizes  ${new Date().toISOString()}`);
  const times: string[] = [];
  const rows = await runBench(opts, undefined, {
    onSuite(suite, got, ms) {
      console.log(suite.table ? suite.table(got) : formatTable(got, { legend: false }));
      if (suite.summarize && got.length) console.log(suite.summarize(got));
      console.log(`\n${suite.name}: ${got.length} ${suite.table ? "runs" : "measurements"} in ${formatWall(ms)}`);
      times.push(`${suite.name} ${formatWall(ms)}`);
    },
  });
  if (!opts.suites.length || opts.suites.some((s) => s !== "tasks")) console.log(`\n${LEGEND}`);
  if (opts.json) {
    const full = resolve(opts.json);
    writeFilesAtomic(dirname(full), { [basename(full)]: JSON.stringify(rows, null, 2) }, { createFolder: true, op: "--json" });
    console.log(`wrote ${rows.length} rows to ${opts.json}`);
  }
  if (opts.html) {
    writeHtmlReport(opts.html, rows, { subtitle: header });
    console.log(`wrote the HTML report to ${opts.html}`);
  }
  console.log(`\nwall time: ${times.join(", ")}; total ${formatWall(performance.now() - start)}`);
}

if (process.argv[1] && /cli\.(js|ts)$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
