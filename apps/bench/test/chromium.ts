/**
 * Headless chromium for the bench tests, as apps/browser-test drives it: Debian's /usr/bin/chromium
 * (or TESSERA_CHROMIUM) through playwright-core, no browser download; the flags that give it a
 * WebGPU adapter on SwiftShader; without chromium the tests skip with the reason, except under
 * TESSERA_REQUIRE_WEBGPU=1 (CI), where that is a failure.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.TESSERA_CHROMIUM || "/usr/bin/chromium";
export const REQUIRE = process.env.TESSERA_REQUIRE_WEBGPU === "1";
/** Dawn on Vulkan over SwiftShader (Debian's chromium ships libvk_swiftshader; libvulkan1 is the loader). */
export const CHROMIUM_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader", "--use-webgpu-adapter=swiftshader"];

/** Why the browser tests cannot run here, or null. */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  return `bench browser tests skipped: ${CHROMIUM} not found — apt-get install chromium libvulkan1 (set TESSERA_CHROMIUM to another binary)`;
}

/** Rejects with `what` timed out after `ms` (every wait in these tests is bounded). */
export async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function launch(): Promise<Browser> {
  return bounded(chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 }), 40_000, "chromium launch");
}

/** A page that collects console errors, uncaught exceptions and failed requests. */
export async function openPage(browser: Browser, width = 1200): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.setDefaultTimeout(30_000);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.on("crash", () => errors.push("the page crashed"));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  return { page, errors };
}

/** Per chart figure on the page: its id and how many data marks of each type it drew ({ rect: 12, text: 12, ... }). */
export function chartMarks(page: Page): Promise<Record<string, Record<string, number>>> {
  return page.evaluate(() => {
    const out: Record<string, Record<string, number>> = {};
    for (const f of document.querySelectorAll<HTMLElement>("figure[data-chart]")) {
      // Vega's SVG renderer draws each data mark as a group `g.mark-<type>.role-mark` holding one element per datum.
      const counts: Record<string, number> = {};
      for (const g of f.querySelectorAll("svg g.role-mark")) {
        const type = /mark-(\w+)/.exec(g.getAttribute("class") ?? "")?.[1] ?? "?";
        counts[type] = (counts[type] ?? 0) + g.children.length;
      }
      out[f.dataset.chart!] = counts;
    }
    return out;
  });
}
