/**
 * The report's charts as Vega-Lite specs, from the rows the CLI writes (`--json`). Pure data in,
 * JSON specs out (no DOM): the HTML report embeds these specs and the web page builds them from
 * its own rows, and both render them with the same code (render.ts, vega-embed).
 *   attention, ssm: time and peak memory vs sequence length per mixer, log-log, with the
 *     crossovers against the suite's quadratic baseline marked;
 *   tasks: validation accuracy vs fine-tuning step per mixer, the task x mixer test-accuracy heat map;
 *   every other suite (ops, matmul, models, quantize, codebook): throughput bars per case, Tessera
 *     next to the anchors (onnxruntime, tfjs, plain JS).
 */
import type { Row } from "../harness";

/** A Vega-Lite top-level spec (kept as plain JSON: embedded in the HTML and checked by vega-lite's compiler in the tests). */
export type VlSpec = Record<string, unknown>;

export interface Chart {
  /** Stable id: `${suite}-${kind}` (kinds: time, memory, bars, curves, heatmap). */
  id: string;
  title: string;
  /** One or two sentences under the chart: what to read from it. */
  caption: string;
  spec: VlSpec;
}

export interface Section {
  suite: string;
  charts: Chart[];
  /** Lines about what could not be drawn (failed rows, missing fields). */
  notes: string[];
}

/** The implementations a user would pick instead of Tessera (grey in the bar charts). */
export const ANCHORS = ["onnxruntime-node", "tfjs-wasm", "tfjs-cpu", "plain-js"];

/** The quadratic baseline of each scaling suite: crossovers are marked against it. */
export const BASELINE: Record<string, string> = { attention: "tessera", ssm: "attention (tiled)" };
const BASELINE_WORDS: Record<string, string> = { attention: "softmax attention with materialized scores ('tessera')", ssm: "tiled softmax attention" };

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const ok = (r: Row): boolean => r.runs > 0 && Number.isFinite(r.median_ms);

/** The sequence length in a case name ("causal T=2048", "T=512"); null if there is none. */
export function lengthOf(caseName: string): number | null {
  const m = /\bT=(\d+)\b/.exec(caseName);
  return m ? Number(m[1]) : null;
}

/** Series names: the impl, plus the backend for an impl measured on several backends (the web page runs cpu and WebGPU). */
export function seriesNamer(rows: Row[]): (r: Row) => string {
  const backends = new Map<string, Set<string>>();
  for (const r of rows) {
    if (!backends.has(r.impl)) backends.set(r.impl, new Set());
    backends.get(r.impl)!.add(r.backend);
  }
  return (r) => ((backends.get(r.impl)?.size ?? 1) > 1 ? `${r.impl} [${r.backend}]` : r.impl);
}

export interface Crossover {
  series: string;
  baseline: string;
  /** Where the two log-log lines cross (interpolated between the measured lengths). */
  length: number;
  ms: number;
  /** 'faster': the series becomes faster than the baseline from this length on. */
  direction: "faster" | "slower";
}

/**
 * Crossovers of each series with the baseline: between two measured lengths where the sign of
 * log(time / baseline time) changes, the crossing of the two straight lines in log-log space.
 */
export function crossovers(points: { series: string; length: number; ms: number }[], baseline: string): Crossover[] {
  const at = new Map(points.map((p) => [`${p.series}\u0000${p.length}`, p.ms]));
  const base = (len: number) => at.get(`${baseline}\u0000${len}`);
  const out: Crossover[] = [];
  for (const series of [...new Set(points.map((p) => p.series))]) {
    if (series === baseline) continue;
    const lens = points
      .filter((p) => p.series === series && base(p.length) !== undefined)
      .map((p) => p.length)
      .sort((a, b) => a - b);
    for (let i = 1; i < lens.length; i++) {
      const [l1, l2] = [lens[i - 1], lens[i]];
      const d1 = Math.log(at.get(`${series}\u0000${l1}`)! / base(l1)!);
      const d2 = Math.log(at.get(`${series}\u0000${l2}`)! / base(l2)!);
      if (d1 >= 0 === d2 >= 0 || d1 === d2) continue;
      const f = d1 / (d1 - d2); // fraction of the way from l1 to l2 (in log length)
      const length = Math.exp(Math.log(l1) + f * (Math.log(l2) - Math.log(l1)));
      const logB = Math.log(base(l1)!) + f * (Math.log(base(l2)!) - Math.log(base(l1)!));
      out.push({ series, baseline, length, ms: Math.exp(logB), direction: d2 < 0 ? "faster" : "slower" });
    }
  }
  return out;
}

const round = (x: number) => (x >= 100 ? Math.round(x) : Number(x.toPrecision(3)));

/** Tick values for a log axis over [lo, hi]: 1-2-5 per decade, or powers of ten alone when that is too many. */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0 && hi >= lo)) return [];
  const [a, b] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  const steps = b - a > 3 ? [1] : [1, 2, 5];
  const out: number[] = [];
  for (let e = a; e <= b; e++) for (const m of steps) out.push(Number((m * 10 ** e).toPrecision(1)));
  // one tick beyond the data on either side at most
  const inside = out.filter((v) => v >= lo && v <= hi);
  const below = out.filter((v) => v < lo).pop();
  const above = out.find((v) => v > hi);
  return [...(below !== undefined ? [below] : []), ...inside, ...(above !== undefined ? [above] : [])];
}

const logAxisOf = (values: number[]) => ({ values: logTicks(Math.min(...values), Math.max(...values)), grid: true });

function scalingCharts(suite: string, rows: Row[]): Section {
  const name = seriesNamer(rows);
  const notes: string[] = [];
  const measured = rows.filter((r) => ok(r) && lengthOf(r.case) !== null);
  const failed = rows.filter((r) => !ok(r));
  if (failed.length) notes.push(`left out (failed): ${failed.map((r) => `${r.impl} ${r.case}`).join(", ")}`);
  const points = measured.map((r) => ({
    series: name(r),
    impl: r.impl,
    backend: r.backend,
    length: lengthOf(r.case)!,
    ms: round(r.median_ms),
    mib: r.peak_bytes !== undefined && r.peak_bytes > 0 ? round(r.peak_bytes / 2 ** 20) : null,
  }));
  if (!points.length) return { suite, charts: [], notes: [...notes, "nothing measured: no chart"] };
  // One baseline per backend (the web page measures cpu and WebGPU side by side).
  const baselineImpl = BASELINE[suite];
  const cross: Crossover[] = [];
  for (const r of measured.filter((x) => x.impl === baselineImpl)) {
    const b = name(r);
    if (cross.some((c) => c.baseline === b)) continue;
    const sameBackend = points.filter((p) => p.backend === r.backend);
    cross.push(...crossovers(sameBackend, b));
  }
  const implOf = new Map(points.map((p) => [p.series, p.impl]));
  const crossData = [...cross]
    .sort((a, b) => a.length - b.length)
    .map((c, i) => ({
      series: c.series,
      impl: implOf.get(c.series),
      length: Math.round(c.length),
      ms: round(c.ms),
      label: `T≈${Math.round(c.length)}`,
      // labels drawn above the diamond, nearby crossovers' labels stacked upwards (a log axis: a factor)
      labelMs: round(c.ms * 10 ** (0.15 * (1 + (i % 4)))),
      what: `${c.series} ${c.direction === "faster" ? "becomes faster" : "becomes slower"} than ${c.baseline} at T ≈ ${Math.round(c.length)}`,
    }));
  // colour: the implementation; dashes: the backend (when there are several)
  const impls = [...new Set(points.map((p) => p.impl))];
  const backends = [...new Set(points.map((p) => p.backend))];
  const color = {
    field: "impl",
    type: "nominal",
    title: suite === "ssm" ? "layer" : "implementation",
    scale: { domain: impls, scheme: impls.length > 10 ? "category20" : "tableau10" },
    legend: { labelLimit: 260 },
  };
  const dash = backends.length > 1 ? { strokeDash: { field: "backend", type: "nominal", title: "backend", sort: backends } } : {};
  const x = {
    field: "length",
    type: "quantitative",
    title: "sequence length T (log)",
    scale: { type: "log", base: 2, nice: false },
    axis: { values: [...new Set(points.map((p) => p.length))].sort((a, b) => a - b) },
  };
  const line = (y: object) => ({
    mark: { type: "line", point: { filled: true, size: 40 }, strokeWidth: 2 },
    encoding: { x, y, color, ...dash, detail: { field: "series" }, tooltip: [{ field: "series" }, { field: "length", title: "T" }, { ...y }] },
  });
  const timeY = { field: "ms", type: "quantitative", title: "median time per forward (ms, log)", scale: { type: "log" }, axis: logAxisOf(points.map((p) => p.ms)) };
  const timeSpec: VlSpec = {
    $schema: SCHEMA,
    width: 520,
    height: 320,
    data: { values: points },
    layer: [
      line(timeY),
      {
        data: { values: crossData },
        mark: { type: "point", shape: "diamond", size: 160, filled: true, stroke: "black", strokeWidth: 1 },
        encoding: { x, y: timeY, color, tooltip: [{ field: "what", title: "crossover" }] },
      },
      {
        data: { values: crossData },
        mark: { type: "text", fontSize: 10, fontWeight: "bold" },
        encoding: { x, y: { ...timeY, field: "labelMs" }, text: { field: "label" }, color },
      },
    ],
  };
  const memPoints = points.filter((p) => p.mib !== null);
  const memY = { field: "mib", type: "quantitative", title: "peak tensor memory (MiB, log)", scale: { type: "log" }, axis: logAxisOf(memPoints.map((p) => p.mib!)) };
  const charts: Chart[] = [
    {
      id: `${suite}-time`,
      title: `${suite}: time vs sequence length`,
      caption:
        `Median time per forward pass, log-log: a slope of 1 is linear in T, 2 quadratic. Diamonds mark where a mixer's line crosses ${BASELINE_WORDS[suite] ?? baselineImpl}` +
        (crossData.length ? ` (${crossData.map((c) => c.what).join("; ")}).` : " (no crossover within the measured lengths)."),
      spec: timeSpec,
    },
  ];
  if (memPoints.length)
    charts.push({
      id: `${suite}-memory`,
      title: `${suite}: peak memory vs sequence length`,
      caption: "Peak live tensor bytes of one forward pass beyond its inputs (Tessera's memory() accounting), log-log.",
      spec: { $schema: SCHEMA, width: 520, height: 320, data: { values: memPoints }, ...line(memY) },
    });
  else notes.push("no peak-memory figures in these rows");
  return { suite, charts, notes };
}

/** The throughput of one case's rows: GFLOP/s or GB/s when every row has it, else runs per second. */
function metricOf(group: Row[]): { title: string; value: (r: Row) => number; unit: string } {
  if (group.every((r) => r.gflops !== undefined)) return { title: "GFLOP/s", unit: "GFLOP/s", value: (r) => r.gflops! };
  if (group.every((r) => r.gbps !== undefined)) return { title: "GB/s (input + output)", unit: "GB/s", value: (r) => r.gbps! };
  return { title: "runs per second (1000 / median ms)", unit: "/s", value: (r) => 1000 / r.median_ms };
}

function barCharts(suite: string, rows: Row[]): Section {
  const name = seriesNamer(rows);
  const notes: string[] = [];
  const failed = rows.filter((r) => !ok(r));
  if (failed.length) notes.push(`left out (failed): ${failed.map((r) => `${r.impl} ${r.case}`).join(", ")}`);
  const cases = [...new Set(rows.filter(ok).map((r) => r.case))];
  const panels = cases.map((c) => {
    const group = rows.filter((r) => ok(r) && r.case === c);
    const m = metricOf(group);
    const values = group.map((r) => {
      const v = m.value(r);
      return {
        impl: name(r),
        kind: ANCHORS.includes(r.impl) ? "anchor" : "tessera",
        value: round(v),
        label: `${round(v)} ${m.unit}`,
        ms: round(r.median_ms),
        note: r.note ?? "",
      };
    });
    return {
      title: { text: c, anchor: "start", fontSize: 12 },
      width: 360,
      height: { step: 18 },
      data: { values },
      encoding: {
        y: { field: "impl", type: "nominal", sort: null, title: null, axis: { labelLimit: 200, minExtent: 150 } },
        x: { field: "value", type: "quantitative", title: m.title },
      },
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            color: { field: "kind", type: "nominal", title: null, scale: { domain: ["tessera", "anchor"], range: ["#4c78a8", "#bab0ac"] } },
            tooltip: [{ field: "impl" }, { field: "label", title: "throughput" }, { field: "ms", title: "median ms" }, { field: "note" }],
          },
        },
        { mark: { type: "text", align: "left", dx: 3, fontSize: 10 }, encoding: { text: { field: "label" } } },
      ],
    };
  });
  const charts: Chart[] = panels.length
    ? [
        {
          id: `${suite}-bars`,
          title: `${suite}: throughput, Tessera and the anchors`,
          caption: "Throughput per case (longer is faster), measured side by side in one run; blue: Tessera, grey: the libraries a user would pick instead.",
          spec: { $schema: SCHEMA, concat: panels, columns: panels.length > 3 ? 2 : 1, spacing: { row: 14, column: 40 } },
        },
      ]
    : [];
  return { suite, charts, notes };
}

/** accuracy > chance + 2 standard errors of a chance-level guesser over the test_n scored items (as the tasks table). */
const aboveChance = (r: Row): boolean => r.accuracy !== undefined && r.chance !== undefined && r.accuracy > r.chance + 2 * Math.sqrt((r.chance * (1 - r.chance)) / (r.test_n ?? 1));

const PRETRAIN_WORDS = (p: string | undefined) => (!p || p === "none" ? "from scratch" : `self-pretrained (${p})`);

function taskCharts(rows: Row[]): Section {
  const notes: string[] = [];
  const done = rows.filter((r) => ok(r) && r.accuracy !== undefined);
  const failed = rows.filter((r) => !ok(r));
  if (failed.length) notes.push(`left out (failed): ${failed.map((r) => `${r.impl} on ${r.case}`).join(", ")}`);
  const mixers = [...new Set(done.map((r) => r.mixer ?? r.impl))];
  const charts: Chart[] = [];
  const curvePoints = done.flatMap((r) =>
    (r.curve ?? []).map((p) => ({
      task: r.task ?? r.case,
      mixer: r.mixer ?? r.impl,
      pretrain: PRETRAIN_WORDS(r.pretrain),
      step: p.step,
      accuracy: round(p.accuracy),
      chance: r.chance ?? null,
    })),
  );
  const mixerColor = {
    field: "mixer",
    type: "nominal",
    scale: { domain: mixers, scheme: mixers.length > 10 ? "category20" : "tableau10" },
    legend: { columns: mixers.length > 8 ? 2 : 1 },
  };
  if (curvePoints.length)
    charts.push({
      id: "tasks-curves",
      title: "tasks: validation accuracy vs fine-tuning step",
      caption:
        "Accuracy on the fixed validation split during fine-tuning, per mixer (step 0: before fine-tuning, after self-pretraining where there is one); the dashed line is the chance level.",
      spec: {
        $schema: SCHEMA,
        data: { values: curvePoints },
        facet: { row: { field: "task", title: null }, column: { field: "pretrain", title: null } },
        spec: {
          width: 300,
          height: 200,
          layer: [
            {
              mark: { type: "line", point: { size: 20 } },
              encoding: {
                x: { field: "step", type: "quantitative", title: "fine-tuning step" },
                y: { field: "accuracy", type: "quantitative", title: "validation accuracy", scale: { zero: true } },
                color: mixerColor,
                tooltip: [{ field: "mixer" }, { field: "step" }, { field: "accuracy" }],
              },
            },
            { mark: { type: "rule", strokeDash: [4, 3], color: "black" }, encoding: { y: { field: "chance", aggregate: "mean", type: "quantitative" } } },
          ],
        },
        resolve: { scale: { x: "independent" } },
      },
    });
  else if (done.length) notes.push("no accuracy curves in these rows (rows written before the runner recorded `curve`): only the heat map");
  const cells = done.map((r) => ({
    task: r.task ?? r.case,
    mixer: r.mixer ?? r.impl,
    pretrain: PRETRAIN_WORDS(r.pretrain),
    accuracy: round(r.accuracy!),
    chance: r.chance ?? null,
    label: `${r.accuracy!.toFixed(2)}${aboveChance(r) ? "*" : ""}`,
  }));
  const topAccuracy = Math.max(0.01, ...cells.map((c) => c.accuracy));
  if (cells.length)
    charts.push({
      id: "tasks-heatmap",
      title: "tasks: test accuracy, task x mixer",
      caption:
        "Test accuracy of each mixer on each task, one panel per training protocol; * = above chance by more than 2 binomial standard errors (the tooltip gives the chance level).",
      spec: {
        $schema: SCHEMA,
        data: { values: cells },
        facet: { row: { field: "pretrain", title: null, sort: ["from scratch"], header: { labelOrient: "top", labelAngle: 0, labelAnchor: "start", labelFontWeight: "bold" } } },
        spec: {
          width: { step: 30 },
          height: { step: 30 },
          encoding: {
            x: { field: "mixer", type: "nominal", sort: mixers, title: null, axis: { labelAngle: -45 } },
            y: { field: "task", type: "nominal", title: null },
          },
          layer: [
            {
              mark: { type: "rect" },
              encoding: {
                // from 0 to the best accuracy in the rows (small models: the differences sit well below 1)
                color: { field: "accuracy", type: "quantitative", title: "test accuracy", scale: { scheme: "viridis", domain: [0, topAccuracy] } },
                tooltip: [{ field: "task" }, { field: "mixer" }, { field: "pretrain" }, { field: "accuracy" }, { field: "chance" }],
              },
            },
            {
              mark: { type: "text", fontSize: 9 },
              // dark cells (the lower 60% of viridis) get white text
              encoding: { text: { field: "label" }, color: { condition: { test: `datum.accuracy < ${0.6 * topAccuracy}`, value: "white" }, value: "black" } },
            },
          ],
        },
      },
    });
  return { suite: "tasks", charts, notes };
}

/** The report: one section per suite, in the order the suites appear in the rows. */
export function reportSections(rows: Row[]): Section[] {
  const suites = [...new Set(rows.map((r) => r.suite))];
  return suites.map((suite) => {
    const mine = rows.filter((r) => r.suite === suite);
    if (suite === "tasks") return taskCharts(mine);
    if (suite in BASELINE) return scalingCharts(suite, mine);
    return barCharts(suite, mine);
  });
}

/** Checks that `data` is an array of rows (as the CLI writes them); throws naming what is wrong. */
export function parseRows(data: unknown, source = "rows"): Row[] {
  if (!Array.isArray(data)) throw new Error(`${source}: expected a JSON array of rows (as written by --json), got ${data === null ? "null" : typeof data}`);
  data.forEach((r, i) => {
    const bad = (what: string) => new Error(`${source}: row ${i} ${what} (a row has suite, case, impl, backend, median_ms, runs)`);
    if (typeof r !== "object" || r === null) throw bad("is not an object");
    for (const k of ["suite", "case", "impl", "backend"]) if (typeof (r as Record<string, unknown>)[k] !== "string") throw bad(`has no string '${k}'`);
    // JSON turns NaN (a failed row) into null.
    for (const k of ["median_ms", "min_ms", "max_ms"]) if ((r as Record<string, unknown>)[k] === null) (r as Record<string, unknown>)[k] = Number.NaN;
    if (typeof (r as Record<string, unknown>).runs !== "number") throw bad("has no numeric 'runs'");
  });
  return data as Row[];
}
