/**
 * `tessera-bench accuracy <name...> [--quick] [--json FILE] [--seed N]`: runs the named accuracy experiments
 * (issue 15 §4; fixed seeds and splits, minutes each on 2 cores, never in CI's time), printing
 * progress, each experiment's table, and the machine's load average at the start and the end
 * (the figures depend on nothing else, the times do).
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { useBackend } from "./backends";
import { ACCURACY_EXPERIMENTS, experimentByName, type ExperimentRow } from "./accuracy/experiments/index";
import { formatWall } from "./report";

export interface AccuracyCliOptions {
  names: string[];
  quick: boolean;
  json?: string;
  seed?: number;
}

export const ACCURACY_USAGE = `usage: tessera-bench accuracy <experiment...> [--quick] [--json FILE] [--seed N]
  --quick: the seconds-long smoke run of the same machinery
  --seed N: another seed for weights, batch order and masks (default 0; the data splits never change)
experiments: ${ACCURACY_EXPERIMENTS.map((e) => `\n  ${e.name}: ${e.description}`).join("")}`;

export function parseAccuracyArgs(argv: string[]): AccuracyCliOptions {
  const o: AccuracyCliOptions = { names: [], quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") o.quick = true;
    else if (a === "--json") {
      const v = argv[++i];
      if (v === undefined) throw new Error("--json needs a value");
      o.json = v;
    } else if (a === "--seed") {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`--seed needs a non-negative integer, got ${argv[i]}`);
      o.seed = v;
    } else if (a === "--help" || a === "-h") throw new Error("help");
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else o.names.push(experimentByName(a).name);
  }
  if (o.names.length === 0) throw new Error("name at least one experiment");
  return o;
}

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" / ");

export async function runAccuracy(
  o: AccuracyCliOptions,
  out: (s: string) => void = console.log,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<ExperimentRow[]> {
  await useBackend("cpu");
  const c = cpus();
  out(`tessera-bench accuracy  node ${process.version}  ${c[0]?.model ?? "cpu"} x${c.length}  ${o.quick ? "quick" : "full"} run  ${new Date().toISOString()}`);
  out(`load average (1 / 5 / 15 min) at start: ${load()}`);
  const rows: ExperimentRow[] = [];
  for (const name of o.names) {
    const t0 = performance.now();
    const report = await experimentByName(name).run({ quick: o.quick, log, ...(o.seed === undefined ? {} : { seed: o.seed }) });
    out(`\n${report.table}`);
    out(`${name}: ${formatWall(performance.now() - t0)}; load average at its end: ${load()}`);
    rows.push(...report.rows);
  }
  if (o.json) {
    writeFileSync(o.json, JSON.stringify(rows, null, 2));
    out(`wrote ${rows.length} rows to ${o.json}`);
  }
  return rows;
}
