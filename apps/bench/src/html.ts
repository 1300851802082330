/**
 * `--html FILE`: a self-contained report, one file that opens offline (file://): the charts of
 * charts/specs.ts embedded as JSON, each suite's text table folded under its charts, and the
 * renderer with vega, vega-lite and vega-embed inlined (dist/report-page.js, ~0.9 MB minified).
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFilesAtomic } from "@tessera/tensor/node";
import type { EmbeddedReport } from "./charts/report-page";
import { STYLE } from "./charts/render";
import { reportSections } from "./charts/specs";
import type { Row } from "./harness";
import { formatTable } from "./report";
import { ALL_SUITES } from "./suites/index";

const here = dirname(fileURLToPath(import.meta.url));

/** The built renderer: beside dist/cli.js, or ../dist from src/ (tests). */
export function reportScript(): string {
  for (const p of [join(here, "report-page.js"), join(here, "..", "dist", "report-page.js")]) if (existsSync(p)) return readFileSync(p, "utf8");
  throw new Error(`html report: dist/report-page.js not found next to ${here} — build the bench app first (npm run build in apps/bench)`);
}

/** Text that may sit inside <script>: no "</script" (or "<!--") can end it early. */
const scriptSafe = (s: string) => s.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export interface HtmlMeta {
  title?: string;
  /** One line under the title: where the rows come from (machine, command, files). */
  subtitle?: string;
}

/** Each suite's text table (its own `table`, or the timing table, plus its summary lines). */
export function suiteTables(rows: Row[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...new Set(rows.map((r) => r.suite))]) {
    const mine = rows.filter((r) => r.suite === name);
    const suite = ALL_SUITES.find((s) => s.name === name);
    let text = suite?.table ? suite.table(mine) : formatTable(mine);
    if (suite?.summarize) text += `\n${suite.summarize(mine)}`;
    out[name] = text.trim();
  }
  return out;
}

export function htmlReport(rows: Row[], meta: HtmlMeta = {}): string {
  const report: EmbeddedReport = { sections: reportSections(rows), tables: suiteTables(rows) };
  const title = meta.title ?? "Tessera bench report";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(meta.subtitle ?? `${rows.length} rows`)}</p>
<main id="report"></main>
<script type="application/json" id="tessera-report">${scriptSafe(JSON.stringify(report))}</script>
<script>${scriptSafe(reportScript())}</script>
</body>
</html>
`;
}

/** Writes the report atomically (a temporary file renamed over `path`). */
export function writeHtmlReport(path: string, rows: Row[], meta: HtmlMeta = {}): void {
  const full = resolve(path);
  writeFilesAtomic(dirname(full), { [basename(full)]: htmlReport(rows, meta) }, { createFolder: true, op: "--html" });
}
