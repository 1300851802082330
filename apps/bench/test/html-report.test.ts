/**
 * The HTML report (`--html`, `report`), without a browser: from a fixed rows fixture
 * (fixtures/report-rows.json, values chosen so the expected charts are known by construction),
 * the file holds the expected charts with the expected data, every spec compiles with vega-lite
 * and renders to SVG with vega in Node, the file is self-contained, and the CLI's arguments and
 * errors behave. Crossovers and log ticks are checked against their definitions.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as vega from "vega";
import { compile } from "vega-lite";
import type { EmbeddedReport } from "../src/charts/report-page";
import { crossovers, logTicks, parseRows, reportSections, type Chart } from "../src/charts/specs";
import { parseArgs } from "../src/cli";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, "fixtures", "report-rows.json");
const CLI = join(here, "..", "dist", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "tessera-html-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The embedded report of an HTML file. */
export function embedded(html: string): EmbeddedReport {
  const m = /<script type="application\/json" id="tessera-report">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error("no embedded report");
  return JSON.parse(m[1]) as EmbeddedReport;
}

// The report of the fixture, made by the built CLI as a user would: `tessera-bench report FILE --html OUT`.
const out = join(dir, "report.html");
const stdout = execFileSync(process.execPath, [CLI, "report", FIXTURE, "--html", out], { encoding: "utf8" });
const html = readFileSync(out, "utf8");
const report = embedded(html);
const charts = new Map<string, Chart>(report.sections.flatMap((s) => s.charts.map((c) => [c.id, c] as const)));
type Datum = Record<string, unknown>;
/** The inline data of a spec, or of one layer (by index) of it. */
const dataOf = (spec: Record<string, unknown>, layer?: number): Datum[] => {
  const s = layer === undefined ? spec : (spec.layer as Record<string, unknown>[])[layer];
  return ((s.data as { values: Datum[] }) ?? (spec.data as { values: Datum[] })).values;
};

describe("the HTML report", () => {
  it("is written by `report FILE --html OUT` with one section per suite and the expected charts", () => {
    expect(stdout).toContain("wrote the report of 29 rows");
    expect(report.sections.map((s) => s.suite)).toEqual(["attention", "ssm", "matmul", "models", "tasks"]);
    expect([...charts.keys()]).toEqual(["attention-time", "attention-memory", "ssm-time", "ssm-memory", "matmul-bars", "models-bars", "tasks-curves", "tasks-heatmap"]);
    // Each suite's text table rides along (folded under the charts).
    expect(report.tables.matmul).toContain("onnxruntime-node");
    expect(report.tables.tasks).toContain("| mixer |");
  });

  it("is self-contained: the renderer is inlined, nothing is loaded from elsewhere, and row text cannot end a script", () => {
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    // vega, vega-lite and vega-embed are in the file (minified, some hundreds of kB).
    expect(html.length).toBeGreaterThan(500_000);
    expect(html).toContain("vega-lite");
    // The failed row's note contains "</script>": escaped, the page keeps exactly its two script elements.
    expect(html.match(/<\/script>/g)?.length).toBe(2);
    expect(report.sections[0].notes.join(" ")).toContain("probsparse causal T=512");
  });

  it("plots time vs length log-log per mixer, with the crossover where the lines meet", () => {
    const spec = charts.get("attention-time")!.spec;
    const points = dataOf(spec, 0);
    expect(points).toHaveLength(9); // 3 impls x 3 lengths; the failed row left out
    const layer0 = (spec.layer as { encoding: Record<string, { scale?: { type: string } }> }[])[0].encoding;
    expect([layer0.x.scale?.type, layer0.y.scale?.type]).toEqual(["log", "log"]);
    // tiled (3 T/128 ms) meets the reference (( T/128)^2 ms) at T = 384, 9 ms; onnxruntime (0.8 x the reference) never does.
    expect(dataOf(spec, 1)).toEqual([expect.objectContaining({ series: "tessera tiled", length: 384, ms: 9, label: "T≈384" })]);
    expect(charts.get("attention-time")!.caption).toContain("tessera tiled becomes faster than tessera at T ≈ 384");
    expect(dataOf(charts.get("ssm-time")!.spec, 1)).toEqual([expect.objectContaining({ series: "mamba mixer", length: 1024, ms: 20 })]);
    // memory: MiB per point (tiled: T / 256 MiB)
    const mem = dataOf(charts.get("attention-memory")!.spec).filter((p) => p.series === "tessera tiled");
    expect(mem.map((p) => [p.length, p.mib])).toEqual([
      [128, 0.5],
      [256, 1],
      [512, 2],
    ]);
  });

  it("draws throughput bars, Tessera and the anchors, in each case's unit", () => {
    const panels = charts.get("matmul-bars")!.spec.concat as Record<string, unknown>[];
    expect(panels).toHaveLength(1);
    const bars = dataOf(panels[0]);
    expect(bars.map((b) => [b.impl, b.kind])).toEqual([
      ["tessera", "tessera"],
      ["onnxruntime-node", "anchor"],
      ["tfjs-wasm", "anchor"],
      ["tfjs-cpu", "anchor"],
      ["plain-js", "anchor"],
    ]);
    expect(bars[0].value).toBe(Number(((2 * 256 ** 3) / 2e6).toPrecision(3))); // GFLOP/s at 2 ms, 3 significant digits
    expect(bars[0].label).toBe("16.8 GFLOP/s");
    // No throughput field in the rows: runs per second (1000 / median ms).
    const models = dataOf((charts.get("models-bars")!.spec.concat as Record<string, unknown>[])[0]);
    expect(models.map((b) => b.value)).toEqual([250, 200]);
  });

  it("plots accuracy vs step per mixer and the task x mixer heat map", () => {
    const curves = dataOf(charts.get("tasks-curves")!.spec);
    expect(curves).toHaveLength(2 * 2 * 2 * 3);
    expect(curves.filter((p) => p.task === "mqar" && p.mixer === "mamba" && p.pretrain === "self-pretrained (causal)").map((p) => [p.step, p.accuracy])).toEqual([
      [0, 0.01],
      [2, 0.25],
      [4, 0.5],
    ]);
    const cells = dataOf(charts.get("tasks-heatmap")!.spec);
    expect(cells).toHaveLength(8);
    // * marks accuracy above chance + 2 binomial standard errors: listops softmax 0.25 vs 0.18 + 2 sqrt(0.18 * 0.82 / 200) = 0.234.
    expect(cells.find((c) => c.task === "listops" && c.mixer === "softmax" && c.pretrain === "self-pretrained (causal)")?.label).toBe("0.25*");
    expect(cells.find((c) => c.task === "mqar" && c.mixer === "mamba" && c.pretrain === "from scratch")?.label).toBe("0.20*");
  });

  it("every spec compiles with vega-lite and renders to SVG with vega (in Node) with its data marks", async () => {
    for (const [id, c] of charts) {
      const vg = compile(c.spec as never).spec;
      const view = new vega.View(vega.parse(vg), { renderer: "none" });
      const svg = await view.toSVG();
      view.finalize();
      expect(svg.startsWith("<svg"), id).toBe(true);
      expect(svg, id).toMatch(/class="mark-(line|rect|symbol)[^"]*role-mark/);
    }
  });
});

describe("report rows and arguments", () => {
  it("reads the rows as the CLI writes them (failed rows: NaN as null) and names what is wrong otherwise", () => {
    const rows = parseRows(JSON.parse(readFileSync(FIXTURE, "utf8")), "fixture");
    expect(rows.find((r) => r.impl === "probsparse")?.median_ms).toBeNaN();
    expect(() => parseRows({ rows: [] }, "x.json")).toThrow("x.json: expected a JSON array of rows (as written by --json), got object");
    expect(() => parseRows([{ suite: "ops", case: "c", impl: "i", median_ms: 1, runs: 1 }], "x.json")).toThrow("x.json: row 0 has no string 'backend'");
    expect(reportSections([])).toEqual([]);
  });

  it("parses --html and `report`, and rejects a report without files or without --html", () => {
    expect(parseArgs(["matmul", "--quick", "--html", "r.html"])).toMatchObject({ suites: ["matmul"], quick: true, html: "r.html" });
    expect(parseArgs(["report", "a.json", "b.json", "--html", "r.html"])).toMatchObject({ report: ["a.json", "b.json"], html: "r.html" });
    expect(() => parseArgs(["report", "--html", "r.html"])).toThrow("report needs the JSON files written by --json");
    expect(() => parseArgs(["report", "a.json"])).toThrow("report needs --html FILE");
    expect(() => parseArgs(["matmul", "--html"])).toThrow("--html needs a value");
  });

  it("fails with the file named when a results file is not rows", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ not: "rows" }));
    let err = "";
    try {
      execFileSync(process.execPath, [CLI, "report", bad, "--html", join(dir, "never.html")], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      err = String((e as { stderr: string }).stderr);
    }
    expect(err).toContain(`${bad}: expected a JSON array of rows`);
  });

  it("crossovers: where two power laws meet in log-log space; none for parallel lines", () => {
    // a = 2 T (linear), b = T^2 / 8 (quadratic): equal at T = 16, 32 ms.
    const pts = [4, 8, 32, 64].flatMap((T) => [
      { series: "a", length: T, ms: 2 * T },
      { series: "b", length: T, ms: (T * T) / 8 },
      { series: "c", length: T, ms: (T * T) / 4 },
    ]);
    const got = crossovers(pts, "b");
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ series: "a", baseline: "b", direction: "faster" });
    expect(got[0].length).toBeCloseTo(16, 9);
    expect(got[0].ms).toBeCloseTo(32, 9);
  });

  it("log ticks: 1-2-5 per decade over a short range, powers of ten over a long one, one tick beyond the data at most", () => {
    expect(logTicks(3, 40)).toEqual([2, 5, 10, 20, 50]);
    expect(logTicks(8, 12000)).toEqual([1, 10, 100, 1000, 10000, 100000]);
    expect(logTicks(0, 10)).toEqual([]);
  });
});
