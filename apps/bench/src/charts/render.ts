/**
 * Draws report sections (specs.ts) into a page with vega-embed (SVG renderer): the same code
 * for the HTML report (report-page.ts, inlined into the file) and the web page (web/page.ts).
 */
import embed from "vega-embed";
import type { Section } from "./specs";

export interface RenderOptions {
  /** Preformatted text tables per suite, shown folded under the charts (the HTML report has them). */
  tables?: Record<string, string>;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

/** Replaces `root`'s content with the sections; resolves when every chart is drawn (root.dataset.charts = how many). */
export async function renderSections(root: HTMLElement, sections: Section[], opts: RenderOptions = {}): Promise<number> {
  root.replaceChildren();
  root.dataset.charts = "0";
  const pending: Promise<unknown>[] = [];
  for (const s of sections) {
    const section = el("section");
    section.dataset.suite = s.suite;
    section.append(el("h2", s.suite));
    for (const c of s.charts) {
      const figure = el("figure");
      figure.dataset.chart = c.id;
      const target = el("div", undefined, "chart");
      figure.append(el("h3", c.title), target, el("figcaption", c.caption));
      section.append(figure);
      pending.push(embed(target, c.spec as never, { renderer: "svg", actions: { export: true, source: false, compiled: false, editor: false } }));
    }
    for (const n of s.notes) section.append(el("p", n, "note"));
    const table = opts.tables?.[s.suite];
    if (table) {
      const details = el("details");
      details.append(el("summary", "table"), el("pre", table));
      section.append(details);
    }
    root.append(section);
  }
  await Promise.all(pending);
  root.dataset.charts = String(pending.length);
  return pending.length;
}

/** The page's look (the report and the web page share it). */
export const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 20px 40px; color: #222; }
h1 { font-size: 22px; margin: 18px 0 4px; }
h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
h3 { font-size: 14px; margin: 0 0 6px; }
section { display: flex; flex-wrap: wrap; gap: 10px 28px; }
section > h2, section > p, section > details { flex-basis: 100%; }
figure { margin: 8px 0; max-width: 100%; }
figcaption { color: #555; font-size: 12px; max-width: 620px; margin-top: 4px; }
.note { color: #8a5a00; font-size: 12px; margin: 2px 0; }
.meta { color: #555; font-size: 12px; }
pre { font-size: 11px; overflow-x: auto; background: #f6f6f6; padding: 8px; }
`;
