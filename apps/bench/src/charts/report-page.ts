/**
 * The script inlined into the HTML report (built to dist/report-page.global.js, with vega,
 * vega-lite and vega-embed bundled in): reads the sections embedded in the page as JSON and draws them.
 */
import { renderSections } from "./render";
import type { Section } from "./specs";

/** What html.ts embeds in <script type="application/json" id="tessera-report">. */
export interface EmbeddedReport {
  sections: Section[];
  tables: Record<string, string>;
}

const data = document.getElementById("tessera-report");
const root = document.getElementById("report");
if (data && root) {
  const report = JSON.parse(data.textContent ?? "{}") as EmbeddedReport;
  renderSections(root, report.sections, { tables: report.tables }).catch((e) => {
    root.dataset.error = String(e);
    console.error(e);
  });
}
