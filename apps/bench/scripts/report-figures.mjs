// Screenshots of an HTML report's charts, one PNG per chart, for the README:
//   node apps/bench/scripts/report-figures.mjs REPORT.html OUT_DIR [CHART_ID...]
// Opens the report from file:// in headless chromium (Debian's /usr/bin/chromium or
// TESSERA_CHROMIUM, driven by playwright-core: no download), waits until every chart is drawn
// (at most 60 s), and writes OUT_DIR/<chart id>.png for each chart (or the ones named).
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [report, out, ...only] = process.argv.slice(2);
if (!report || !out) {
  console.error("usage: node apps/bench/scripts/report-figures.mjs REPORT.html OUT_DIR [CHART_ID...]");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.TESSERA_CHROMIUM || "/usr/bin/chromium", headless: true, timeout: 30_000 });
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(pathToFileURL(resolve(report)).href, { waitUntil: "load", timeout: 30_000 });
  await page.waitForFunction(() => Number(document.getElementById("report")?.dataset.charts) > 0, undefined, { timeout: 60_000 });
  if (errors.length) throw new Error(`the report logged errors: ${errors.join("; ")}`);
  const ids = await page.$$eval("figure[data-chart]", (fs) => fs.map((f) => f.dataset.chart));
  for (const id of ids.filter((i) => only.length === 0 || only.includes(i))) {
    // the chart alone (the title and caption are in the README's text)
    const file = join(out, `${id}.png`);
    await page.locator(`figure[data-chart="${id}"] .chart svg.marks`).screenshot({ path: file, timeout: 30_000 });
    console.log(`wrote ${file}`);
  }
} finally {
  await browser.close();
}
