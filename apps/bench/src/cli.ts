/**
 * tessera-bench [suite...] [--json FILE] [--backend cpu] [--quick] [--runs N] [--budget MS]
 * Runs the suites (default: all), prints a table of medians and ratios measured side by side in
 * one run, and optionally writes the rows as JSON.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { cpuThreads, useBackend } from "./backends";
import { DEFAULT_MEASURE, type Row } from "./harness";
import { formatTable } from "./report";
import { SUITES } from "./suites/index";

export interface CliOptions {
  suites: string[];
  json?: string;
  backend: string;
  quick: boolean;
  runs?: number;
  budget?: number;
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
    if (a === "--json") opts.json = value();
    else if (a === "--backend") opts.backend = value();
    else if (a === "--quick") opts.quick = true;
    else if (a === "--runs") opts.runs = Number(value());
    else if (a === "--budget") opts.budget = Number(value());
    else if (a === "--help" || a === "-h") throw new Error("help");
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else opts.suites.push(a);
  }
  const known = SUITES.map((s) => s.name);
  for (const s of opts.suites) if (!known.includes(s)) throw new Error(`unknown suite '${s}' (suites: ${known.join(", ")})`);
  return opts;
}

export async function runBench(opts: CliOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<Row[]> {
  await useBackend(opts.backend);
  if (opts.backend === "cpu") log(`cpu backend: WASM SIMD GEMM on ${cpuThreads} thread(s)`);
  const measure = { ...DEFAULT_MEASURE, ...(opts.runs ? { minRuns: opts.runs } : {}), ...(opts.budget ? { budgetMs: opts.budget } : {}) };
  if (opts.quick) Object.assign(measure, { warmup: 1, minRuns: 2, maxRuns: 3, budgetMs: 50 });
  const rows: Row[] = [];
  for (const suite of SUITES.filter((s) => opts.suites.length === 0 || opts.suites.includes(s.name))) {
    log(`${suite.name}: ${suite.description}`);
    rows.push(...(await suite.run({ measure, quick: opts.quick, backend: opts.backend, log })));
  }
  return rows;
}

const USAGE = `usage: tessera-bench [suite...] [--json FILE] [--backend NAME] [--quick] [--runs N] [--budget MS]
suites: ${SUITES.map((s) => `${s.name} (${s.description})`).join("; ")}`;

async function main(): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    const msg = (e as Error).message;
    console.error(msg === "help" ? USAGE : `${msg}\n${USAGE}`);
    process.exit(msg === "help" ? 0 : 2);
  }
  const c = cpus();
  console.log(`tessera-bench  node ${process.version}  ${c[0]?.model ?? "cpu"} x${c.length}  ${new Date().toISOString()}`);
  const rows = await runBench(opts);
  console.log(formatTable(rows));
  for (const suite of SUITES) if (suite.summarize && rows.some((r) => r.suite === suite.name)) console.log(suite.summarize(rows));
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify(rows, null, 2));
    console.log(`\nwrote ${rows.length} rows to ${opts.json}`);
  }
}

if (process.argv[1] && /cli\.(js|ts)$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
