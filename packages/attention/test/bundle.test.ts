/**
 * A cpu-only program that imports scaledDotProductAttention bundles without any WGSL: the
 * package's WebGPU kernels live in `@tessera/attention/webgpu` and reach the op through
 * @tessera/tensor's kernel registry, so nothing in the main entry imports them (nor
 * `@tessera/tensor/webgpu`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { FLASH_WASM_PLAIN, FLASH_WASM_RELAXED_PLAIN } from "../src/flash-wasm/binary";

const here = dirname(fileURLToPath(import.meta.url));
const WGSL = /@compute|@workgroup_size|var<storage/;

async function bundle(source: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bundle-"));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(entry, source);
    const r = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      write: false,
      nodePaths: [join(here, "..", "node_modules")],
      logLevel: "silent",
    });
    return r.outputFiles[0].text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("bundles", () => {
  const src = join(here, "..", "src").replaceAll("\\", "/");
  it("a cpu-only program with scaledDotProductAttention carries no WGSL", async () => {
    const out = await bundle(
      `import { scaledDotProductAttention } from "${src}/index";\nimport { normal } from "@tessera/tensor";\nconst q = normal([1, 2, 4, 8]);\nconsole.log(scaledDotProductAttention(q, q, q).shape);\n`,
    );
    expect(WGSL.test(out), "WGSL in a cpu-only bundle").toBe(false);
    expect(out).toContain(FLASH_WASM_PLAIN.slice(0, 64)); // the cpu backend's fused WASM kernel is registered, not tree-shaken away
    expect(out).toContain(FLASH_WASM_RELAXED_PLAIN.slice(-64)); // and its relaxed-SIMD build
    expect(out.length).toBeLessThan(260_000); // 204 KB before the kernel registry; +21 KB for the flash relaxed-SIMD builds; +15 KB for flash_decode (4 builds: ~2.8 KB of WASM each); +44 KB for the cpu GEMM/GEMV relaxed builds; +4 KB for resident key / value caches; +7 KB for the cpu kernels claiming column chunks and the transpose (4 builds)
  });

  it("importing the webgpu entry brings the WGSL kernel in", async () => {
    const out = await bundle(`import { scaledDotProductAttention } from "${src}/index";\nimport "${src}/webgpu";\nconsole.log(scaledDotProductAttention);\n`);
    expect(WGSL.test(out), "the WGSL kernel in the webgpu bundle").toBe(true);
  });
});
