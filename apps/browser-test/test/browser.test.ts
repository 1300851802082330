/**
 * Tessera in a real browser (Debian's chromium, headless, driven by playwright-core): the page
 * is bundled by esbuild from the packages' built dist/ and served from 127.0.0.1 in two modes,
 * cross-origin isolated (COOP/COEP: SharedArrayBuffer, WASM threads) and not (single thread).
 * Every value is checked here, in Node, against references computed here: float64 math,
 * @tessera/tensor in Node, and the PyTorch fixture fixtures/hf/gpt2.
 *
 * Without chromium the suite is skipped with one line saying why; with
 * TESSERA_REQUIRE_WEBGPU=1 (CI) a missing browser or WebGPU adapter fails it instead.
 */
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { matmul, uniform } from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";
import { generate, quantizeModel, type CausalLM, type LMState } from "@tessera/models";
import { loadPretrained } from "@tessera/models/node";
import { tensor } from "@tessera/tensor";
import { chromiumMissing, REQUIRE, repoRoot, startSession, type Session, type TestPage } from "../src/harness";
import { INT4_FORMAT, ORT_PROBE, ortFiles } from "../src/ort-files";
import type { PageApi } from "../src/page/entry";
import type { OrtRun } from "../src/page/ort-gpt2";

const missing = chromiumMissing();
if (missing && !REQUIRE) console.warn(missing);

// Everything below is started once (one browser, one page per mode) before the tests are
// collected, so that WebGPU's availability can decide what is skipped.
let session: Session | null = null;
let isolated: TestPage | null = null;
let plain: TestPage | null = null;
let threads: { isolated: Awaited<ReturnType<PageApi["threads"]>>; plain: Awaited<ReturnType<PageApi["threads"]>> } | null = null;
let gpu: Awaited<ReturnType<PageApi["webgpuInit"]>> = { adapter: null, reason: "chromium did not start" };
if (!missing) {
  session = await startSession(await ortFiles(join(repoRoot, "fixtures", "hf", "gpt2")));
  try {
    isolated = await session.open("isolated");
    plain = await session.open("plain");
    // Asked before any op runs in the page (the pool starts once, with the first count asked).
    threads = { isolated: await isolated.call("threads", [4]), plain: await plain.call("threads", [4]) };
    gpu = await isolated.call("webgpuInit", []);
  } catch (e) {
    await session.close();
    throw e;
  }
}
const noAdapter = !missing && !gpu.adapter;
if (noAdapter && !REQUIRE)
  console.warn(`browser WebGPU tests skipped: no adapter in chromium (${gpu.reason}) — install libvulkan1 (SwiftShader); TESSERA_REQUIRE_WEBGPU=1 makes this a failure`);

afterAll(async () => {
  await session?.close();
});

/** A test fails if a page logged a console error or threw an uncaught exception. */
afterEach(() => {
  const errors = [isolated, plain].flatMap((p) => (p ? p.errors.splice(0).map((e) => `${p.mode}: ${e}`) : []));
  expect(errors, "console errors / uncaught exceptions in the page").toEqual([]);
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectClose(got: number[], want: number[], tol: number, what: string): number {
  expect(got.length, what).toBe(want.length);
  const err = maxAbsDiff(got, want);
  expect(err, `${what}: max abs error ${err} (got ${got.slice(0, 6)}, want ${want.slice(0, 6)})`).toBeLessThanOrEqual(tol);
  return err;
}

/** float64 references for the page's ops(). */
function opsReference(): Record<string, number[]> {
  const A = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const B = [
    [7, 8],
    [9, 10],
    [11, 12],
  ];
  const mm = (p: number[][], q: number[][]) => p.map((r) => q[0].map((_, j) => r.reduce((s, v, k) => s + v * q[k][j], 0)));
  const T = (p: number[][]) => p[0].map((_, j) => p.map((r) => r[j]));
  const softmaxRow = (r: number[]) => {
    const m = Math.max(...r);
    const e = r.map((v) => Math.exp(v - m));
    const s = e.reduce((x, y) => x + y, 0);
    return e.map((v) => v / s);
  };
  const lnRow = (r: number[], w: number[], b: number[]) => {
    const mu = r.reduce((x, y) => x + y, 0) / r.length;
    const v = r.reduce((x, y) => x + (y - mu) ** 2, 0) / r.length;
    return r.map((x, i) => ((x - mu) / Math.sqrt(v + 1e-5)) * w[i] + b[i]);
  };
  const erf = (x: number) => {
    // Abramowitz-Stegun 7.1.26 is only 1.5e-7; use the series/continued fraction through Math for 1e-12.
    let sum = 0;
    let term = x;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-x * x) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  const AB = mm(A, B);
  const Z = [
    [2, 0, -1],
    [0.5, 1.5, -0.5],
  ];
  const targets = [0, 2];
  return {
    matmul: AB.flat(),
    softmax: [
      [1, 2, 3],
      [0, 0, 0],
      [-1, 0.5, 4],
    ].flatMap(softmaxRow),
    layerNorm: [
      [1, 2, 3, 4],
      [-2, 0, 0.5, 8],
    ].flatMap((r) => lnRow(r, [1, 2, 0.5, -1], [0, 1, 0, -0.25])),
    gelu: [-1, 0, 1, 2].map((x) => 0.5 * x * (1 + erf(x / Math.SQRT2))),
    meanAxis0: [2.5, 3.5, 4.5],
    gradTanh: [-1, 0.5, 2].map((x) => Math.tanh(x) + x * (1 - Math.tanh(x) ** 2)),
    gradMatmulA: mm(AB, T(B))
      .flat()
      .map((v) => 2 * v),
    gradMatmulB: mm(T(A), AB)
      .flat()
      .map((v) => 2 * v),
    gradCrossEntropy: Z.flatMap((r, i) => softmaxRow(r).map((p, j) => (p - (j === targets[i] ? 1 : 0)) / Z.length)),
  };
}

/** The 256x256 product of the page's matmul256(), computed by @tessera/tensor in Node and in float64. */
function matmulReference(): { node: number[]; f64: number[] } {
  const a = uniform([256, 256], -1, 1, { seed: 11 });
  const b = uniform([256, 256], -1, 1, { seed: 12 });
  const node = Array.from(matmul(a, b).dataSync());
  const A = a.dataSync();
  const B = b.dataSync();
  const f64 = new Array<number>(256 * 256).fill(0);
  for (let i = 0; i < 256; i++) for (let k = 0; k < 256; k++) for (let j = 0; j < 256; j++) f64[i * 256 + j] += A[i * 256 + k] * B[k * 256 + j];
  return { node, f64 };
}

const GPT2 = join(repoRoot, "fixtures", "hf", "gpt2");

if (missing && REQUIRE) {
  it("chromium is installed (TESSERA_REQUIRE_WEBGPU=1)", () => {
    throw new Error(`${missing.replace("browser tests skipped: ", "")}; TESSERA_REQUIRE_WEBGPU=1 requires the browser suite to run`);
  });
}

describe.skipIf(!!missing)("chromium: tensor ops and autograd", () => {
  const want = opsReference();
  for (const mode of ["isolated", "plain"] as const) {
    it(`${mode} page: matmul, softmax, layerNorm, gelu, mean and 4 gradients equal float64 references within 1e-5`, async () => {
      const got = await (mode === "isolated" ? isolated! : plain!).call("ops", []);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const k of Object.keys(want)) expectClose(got[k], want[k], 1e-5 * Math.max(1, ...want[k].map(Math.abs)), `${mode} ${k}`);
      expect(got.matmul).toEqual([58, 64, 139, 154]); // exact
    });
  }
});

describe.skipIf(!!missing)("chromium: the cpu backend with and without cross-origin isolation", () => {
  let ref: { node: number[]; f64: number[] };
  let isolatedC: number[] = [];

  it("cross-origin isolated (COOP/COEP): SharedArrayBuffer, 4 WASM threads (3 workers that computed shares), 256x256 matmul equals Node within 1e-5", async () => {
    const t = threads!.isolated;
    expect(t.crossOriginIsolated).toBe(true);
    expect(t.sharedArrayBuffer).toBe(true);
    expect(t.simd).toBe(true);
    expect(t.threadsError).toBeNull();
    expect(t.threads).toBe(4);
    expect(isolated!.workers(), "dedicated workers in the isolated page").toBe(3);
    ref ??= matmulReference();
    const { c, ms, poolBefore, poolAfter, extraProducts } = await isolated!.call("matmul256", []);
    console.log(
      `isolated page: ${t.threads} threads (hardwareConcurrency ${t.hardwareConcurrency}), 256x256 matmul ${ms.toFixed(1)} ms, pool ${JSON.stringify(poolAfter)}, ${extraProducts} more products until a worker ran a job`,
    );
    // The product ran on the pool (one more parallel run), and the workers computed shares: jobs
    // with work that they ran themselves, counted since the pool started (the warm-up product
    // included: a share its worker has not claimed yet runs on the page's thread instead). The page
    // repeats the product (at most 200 times or 10 s) until a worker has run one: scheduling on a
    // loaded machine decides whether the first products leave a worker anything to claim.
    expect(poolAfter.workers).toBe(3);
    expect(poolAfter.runs).toBeGreaterThan(poolBefore.runs);
    expect(poolAfter.workerJobs).toBeGreaterThan(0);
    expectClose(c, ref.node, 1e-5, "isolated matmul vs Node");
    expectClose(c, ref.f64, 1e-4, "isolated matmul vs float64");
    isolatedC = c;
  });

  it("not isolated: no SharedArrayBuffer, 1 thread (no workers), the same 256x256 matmul within 1e-5 of Node", async () => {
    const t = threads!.plain;
    expect(t.crossOriginIsolated).toBe(false);
    expect(t.sharedArrayBuffer).toBe(false);
    expect(t.simd).toBe(true);
    expect(t.threads).toBe(1);
    expect(plain!.workers(), "dedicated workers in the plain page").toBe(0);
    ref ??= matmulReference();
    const { c, ms, poolAfter } = await plain!.call("matmul256", []);
    expect(poolAfter.workers).toBe(0);
    console.log(`plain page: 1 thread, 256x256 matmul ${ms.toFixed(1)} ms`);
    expectClose(c, ref.node, 1e-5, "plain matmul vs Node");
    expectClose(c, ref.f64, 1e-4, "plain matmul vs float64");
    if (isolatedC.length) expect(maxAbsDiff(c, isolatedC), "threads are bit-identical to one thread").toBe(0);
  });
});

if (!missing && noAdapter && REQUIRE) {
  it("WebGPU adapter in chromium (TESSERA_REQUIRE_WEBGPU=1)", () => {
    throw new Error(`no WebGPU adapter in chromium: ${gpu.reason}`);
  });
}

describe.skipIf(!!missing || noAdapter)("chromium: WebGPU (registerWebGPU({ gpu: navigator.gpu }))", () => {
  it("matmul (plain and transposed views), softmax, layerNorm, gelu, exp, sum and 3 gradients equal the cpu within 1e-5 (times the largest |value|, at least 1)", async () => {
    console.log(`WebGPU adapter: ${gpu.adapter}`);
    const { cpu, gpu: g, backends } = await isolated!.call("webgpuOps", []);
    expect(new Set(backends)).toEqual(new Set(["webgpu"]));
    const errs: Record<string, number> = {};
    for (const k of Object.keys(cpu)) errs[k] = expectClose(g[k], cpu[k], 1e-5 * Math.max(1, ...cpu[k].map(Math.abs)), `webgpu ${k}`);
    console.log(`webgpu vs cpu, max abs error: ${JSON.stringify(errs)}`);
  });
});

/** Checks the page's model() result against fixtures/hf/gpt2/expected.safetensors read in Node. */
function checkModel(r: Awaited<ReturnType<PageApi["model"]>>, backend: string): void {
  const expected = loadSafetensors(join(GPT2, "expected.safetensors")).tensors;
  expect(r.modelType).toBe("gpt2");
  expect(r.parameterBackend).toBe(backend);
  expect(r.logitsBackend).toBe(backend);
  expect(r.logitsShape).toEqual(expected["logits"].shape);
  const err = expectClose(r.logits, Array.from(expected["logits"].dataSync()), 1e-4, `${backend} logits vs PyTorch`);
  console.log(`gpt2 on ${backend}: logits max abs error ${err.toExponential(2)}, generated ${JSON.stringify(r.sequence)}`);
  const want = Array.from(expected["generate.output"].dataSync());
  expect(want.slice(0, expected["generate.prompt"].shape[1])).toEqual(Array.from(expected["generate.prompt"].dataSync()));
  expect(r.sequence, "greedy generation vs transformers").toEqual(want);
}

describe.skipIf(!!missing)("chromium: the READMEs' browser examples, as written", () => {
  // A page of their own (each example is its own bundle, as an application would be).
  let page: TestPage;
  afterEach(() => {
    if (page) expect(page.errors.splice(0), "console errors / uncaught exceptions in the README page").toEqual([]);
  });
  it("packages/tensor README: the WebGPU example gives [11] (on webgpu where there is an adapter)", async () => {
    page = await session!.open("isolated");
    const r = await page.importResult<{ backend: string; values: number[] }>("readme-tensor.js");
    expect(r.values).toEqual([11]);
    expect(r.backend).toBe(noAdapter ? "cpu" : "webgpu");
  });
  it("packages/models README: fetch + readSafetensors + fromPretrained + generate runs on the served GPT-2 fixture", async () => {
    page ??= await session!.open("isolated");
    const r = await page.importResult<{ backend: string; sequences: number[][] }>("readme-models.js");
    expect(r.backend).toBe("cpu");
    expect(r.sequences.length).toBe(1);
    expect(r.sequences[0].slice(0, 3)).toEqual([1, 2, 3]);
    expect(r.sequences[0].length).toBe(11);
    // The same greedy continuation as the library computes in Node from the same files.
    const { loadPretrained } = await import("@tessera/models/node");
    const { generate } = await import("@tessera/models");
    const node = loadPretrained(GPT2);
    expect(r.sequences).toEqual((await generate(node.model as never, [[1, 2, 3]], { maxNewTokens: 8 })).sequences);
    node.model.dispose();
  });
});

describe.skipIf(!!missing)("chromium: GPT-2 fixture loaded with fetch", () => {
  it("cpu, isolated page: logits within 1e-4 of PyTorch, greedy generate() equals transformers token for token", async () => {
    checkModel(await isolated!.call("model", ["fixtures/hf/gpt2", "cpu"]), "cpu");
  });
  it("cpu, plain page: the same", async () => {
    checkModel(await plain!.call("model", ["fixtures/hf/gpt2", "cpu"]), "cpu");
  });
  it.skipIf(noAdapter)("webgpu: logits within 1e-4 of PyTorch, greedy generate() equals transformers token for token", async () => {
    checkModel(await isolated!.call("model", ["fixtures/hf/gpt2", "webgpu"]), "webgpu");
  });
});

/**
 * Tessera's side of an onnxruntime-web run: the prompt's logits, then one decode step per token
 * ORT fed (through Tessera's own cache); max abs differences of the prefill and of all steps.
 */
function tesseraAgreement(model: CausalLM, run: OrtRun): { prefill: number; decode: number } {
  const r = model.forward(tensor([ORT_PROBE.prompt], { dtype: "int32" }));
  const prefill = maxAbsDiff(run.prefill, r.logits.dataSync() as Float32Array);
  r.logits.dispose();
  let state: LMState = r.state;
  let decode = 0;
  run.steps.forEach((step, i) => {
    const t = model.forward(tensor([[run.tokens[i]]], { dtype: "int32" }), { state });
    model.disposeState(state);
    state = t.state;
    decode = Math.max(decode, maxAbsDiff(step, t.logits.dataSync() as Float32Array));
    t.logits.dispose();
  });
  model.disposeState(state);
  return { prefill, decode };
}

describe.skipIf(!!missing)("chromium: onnxruntime-web (wasm) runs the GPT-2 graphs @tessera/onnx exports", () => {
  let page: TestPage;
  afterEach(() => {
    if (page) expect(page.errors.splice(0), "console errors / uncaught exceptions in the onnxruntime-web page").toEqual([]);
  });
  it("float32 and int4 (MatMulNBits) graphs: logits within 1e-4 of Tessera at prefill and 7 decode steps through the cache; greedy tokens identical", async () => {
    // A page of its own, not cross-origin isolated: ORT's wasm backend runs one thread, no workers.
    page = await session!.open("plain");
    const runs = await page.importResult<OrtRun[]>("ort-gpt2.js", 60_000);
    expect(runs.map((r) => r.graph)).toEqual(ORT_PROBE.graphs);
    for (const run of runs) {
      const p = loadPretrained(GPT2);
      if (run.graph.endsWith("-int4")) quantizeModel(p.model, { format: INT4_FORMAT });
      const model = p.model as CausalLM;
      expect(run.vocab).toBe(model.vocabSize);
      expect(run.steps.length).toBe(ORT_PROBE.maxNewTokens - 1);
      const d = tesseraAgreement(model, run);
      console.log(
        `onnxruntime-web ${run.executionProviders}, ${run.graph}: prefill ${d.prefill.toExponential(2)}, decode ${d.decode.toExponential(2)}, tokens ${JSON.stringify(run.tokens)}`,
      );
      expect(d.prefill, `${run.graph} prefill`).toBeLessThan(1e-4);
      expect(d.decode, `${run.graph} decode`).toBeLessThan(1e-4);
      const want = await generate(model, [ORT_PROBE.prompt], { maxNewTokens: ORT_PROBE.maxNewTokens });
      expect(run.tokens, `${run.graph}: greedy tokens vs Tessera's generate`).toEqual(want.generated[0]);
      p.model.dispose();
    }
  });
});
