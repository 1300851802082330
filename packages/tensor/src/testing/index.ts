/// <reference types="@webgpu/types" />
/**
 * Test helpers shared by every Tessera package (`@tessera/tensor/testing`): one assertClose
 * with explicit tolerances, and a finite-difference gradient check.
 */
import { grad, isTensor, tensor, tidy, type Tensor } from "@tessera/tensor";

const fmtShape = (s: readonly number[]): string => `[${s.join(",")}]`;

export interface CloseOptions {
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-5): |a - e| <= atol + rtol * |e|. */
  rtol?: number;
  /** Prefix for the error message. */
  label?: string;
}

export interface CloseReport {
  maxAbs: number;
  maxRel: number;
  worstIndex: number;
}

/** Values and shape; a plain array has no shape and is compared by element count alone. */
async function values(x: Tensor | ArrayLike<number>): Promise<{ v: ArrayLike<number>; shape: readonly number[] | null }> {
  if (isTensor(x)) return { v: await x.data(), shape: x.shape };
  return { v: x, shape: null };
}

/** Compares element by element; throws with the worst element, shapes and tolerances. */
export async function assertClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, opts: CloseOptions = {}): Promise<CloseReport> {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-5;
  const a = await values(actual);
  const e = await values(expected);
  const label = opts.label ? `${opts.label}: ` : "";
  if (a.shape && e.shape) {
    const sameShape = a.shape.length === e.shape.length && a.shape.every((d, i) => d === e.shape![i]);
    if (!sameShape) throw new Error(`${label}shape ${fmtShape(a.shape)} differs from expected ${fmtShape(e.shape)}`);
  } else if (a.v.length !== e.v.length) {
    throw new Error(`${label}${a.v.length} values differ in count from the ${e.v.length} expected`);
  }
  const r: CloseReport = { maxAbs: 0, maxRel: 0, worstIndex: -1 };
  let worstExcess = -Infinity;
  for (let i = 0; i < e.v.length; i++) {
    const x = a.v[i];
    const y = e.v[i];
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    const d = x === y ? 0 : Math.abs(x - y);
    const excess = d - (atol + rtol * Math.abs(y));
    if (d > r.maxAbs || Number.isNaN(d)) r.maxAbs = Number.isNaN(d) ? Infinity : d;
    if (y !== 0) r.maxRel = Math.max(r.maxRel, d / Math.abs(y));
    if (excess > worstExcess || Number.isNaN(d)) {
      worstExcess = Number.isNaN(d) ? Infinity : excess;
      r.worstIndex = i;
    }
  }
  if (worstExcess > 0) {
    const i = r.worstIndex;
    throw new Error(`${label}not close (atol ${atol}, rtol ${rtol}): at flat index ${i} got ${a.v[i]}, expected ${e.v[i]}; max abs error ${r.maxAbs}`);
  }
  return r;
}

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-2; central differences in float32). */
  eps?: number;
  atol?: number;
  rtol?: number;
}

/**
 * Checks grad(f) against central finite differences, element by element, for every input.
 * f must return a scalar. Returns the largest absolute error.
 */
export async function checkGrad(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): Promise<number> {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const analytic = grad(f)(...inputs);
  let worst = 0;
  try {
    for (let k = 0; k < inputs.length; k++) {
      const base = await inputs[k].data();
      const numeric = new Float32Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const evalAt = async (delta: number): Promise<number> => {
          const v = Float32Array.from(base);
          v[i] += delta;
          const out = tidy(() => {
            const xi = tensor(v, { shape: inputs[k].shape, dtype: inputs[k].dtype, backend: inputs[k].backend });
            const args = inputs.map((t, j) => (j === k ? xi : t));
            return f(...args);
          });
          const val = (await out.data())[0];
          out.dispose();
          return val;
        };
        numeric[i] = ((await evalAt(eps)) - (await evalAt(-eps))) / (2 * eps);
      }
      const rep = await assertClose(analytic[k], numeric.length ? numeric : [], { atol, rtol, label: `checkGrad input ${k} ${fmtShape(inputs[k].shape)}` }).catch((e: Error) => {
        throw e;
      });
      worst = Math.max(worst, rep.maxAbs);
    }
  } finally {
    for (const g of analytic) g.dispose();
  }
  return worst;
}

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";
const liveGpus: unknown[] = []; // Dawn's GPU object must outlive every pending operation

/**
 * Registers and starts a backend for tests: 'cpu'; 'webgpu' through Dawn (the `webgpu`
 * package; on a machine without a GPU, SwiftShader from Debian's chromium); 'gpujs' in gpu.js's
 * webasm mode (the `gpu.js` package). Throws with the reason when it cannot start: suites must
 * not skip a backend silently.
 */
export async function useTestBackend(name: "cpu" | "webgpu" | "gpujs"): Promise<void> {
  const T = await import("@tessera/tensor");
  if (T.listBackends().includes(name)) {
    await T.ready(name);
    return;
  }
  const load = (spec: string) => import(/* @vite-ignore */ spec);
  if (name === "webgpu") {
    const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
    const fs = (await load("node:fs")) as typeof import("node:fs");
    const os = (await load("node:os")) as typeof import("node:os");
    if (proc && !proc.env.VK_ICD_FILENAMES && fs.existsSync(SWIFTSHADER_ICD) && !fs.existsSync("/dev/nvidia0")) proc.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    if (proc) proc.env.XDG_RUNTIME_DIR ??= os.tmpdir();
    const { create, globals } = (await load("webgpu")) as { create: (o: string[]) => unknown; globals: object };
    Object.assign(globalThis, globals);
    const gpu = create([]);
    liveGpus.push(gpu);
    const { registerWebGPU } = await import("@tessera/tensor/webgpu");
    registerWebGPU({ gpu: gpu as GPU });
  } else if (name === "gpujs") {
    const mod = (await load("gpu.js")) as { GPU?: unknown; default?: { GPU: unknown } };
    const GPUClass = (mod.GPU ?? mod.default?.GPU) as new (o: object) => unknown;
    const { registerGpuJs } = await import("@tessera/tensor/gpujs");
    registerGpuJs(new GPUClass({ mode: "webasm" }) as never);
  }
  try {
    await T.ready(name);
  } catch (e) {
    throw new Error(`the ${name} backend did not start (${(e as Error).message})${name === "webgpu" ? "; without a GPU install Debian's chromium and libvulkan1 (CI does)" : ""}`);
  }
}

/** Whether a test backend started, and why not. */
export interface TestBackendStatus {
  available: boolean;
  /** Why it did not start (empty when it did). */
  reason: string;
}

const probes = new Map<string, Promise<TestBackendStatus>>();

/**
 * Starts a backend for tests like {@link useTestBackend}, but reports a backend that cannot
 * start instead of throwing, so a suite can skip it with a visible reason
 * (`describe.skipIf(!status.available)`): a developer machine without a WebGPU adapter still
 * runs every cpu test. With `TESSERA_REQUIRE_WEBGPU=1` in the environment (CI sets it), a
 * webgpu backend that cannot start throws: nothing is skipped there.
 */
export function probeTestBackend(name: "cpu" | "webgpu" | "gpujs"): Promise<TestBackendStatus> {
  let p = probes.get(name);
  if (!p) {
    p = useTestBackend(name).then(
      () => ({ available: true, reason: "" }),
      (e: Error) => {
        const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
        if (name !== "webgpu" || env.TESSERA_REQUIRE_WEBGPU === "1") throw e;
        const hint = /chromium/.test(e.message) ? "" : "; without a GPU install Debian's chromium and libvulkan1 (CI does)";
        const reason = `${e.message}${hint}`;
        console.warn(`[tessera] webgpu tests skipped: ${reason}. TESSERA_REQUIRE_WEBGPU=1 makes a missing adapter a failure.`);
        return { available: false, reason };
      },
    );
    probes.set(name, p);
  }
  return p;
}

/** The V8 flag that turns relaxed SIMD on in Node 20 (on by default from Node 22). */
export const RELAXED_SIMD_FLAG = "--experimental-wasm-relaxed-simd";

/**
 * Runs one test file of a package again in a Node (and vitest workers) started with
 * RELAXED_SIMD_FLAG, so that its WASM kernels load their relaxed-SIMD builds, and returns vitest's
 * output (it throws when the run fails). `env` is added to the environment (NO_COLOR is set), e.g.
 * TESSERA_EXPECT_RELAXED_SIMD=1 for a file that checks which build loaded. Node only.
 */
export async function runTestFileWithRelaxedSimd(packageDir: string, testFile: string, env: Record<string, string> = {}): Promise<string> {
  const load = (spec: string) => import(/* @vite-ignore */ spec);
  const { execFileSync } = (await load("node:child_process")) as typeof import("node:child_process");
  const { createRequire } = (await load("node:module")) as typeof import("node:module");
  const path = (await load("node:path")) as typeof import("node:path");
  const proc = (await load("node:process")) as typeof import("node:process");
  const vitest = path.join(path.dirname(createRequire(path.join(packageDir, "package.json")).resolve("vitest/package.json")), "vitest.mjs");
  return execFileSync(proc.execPath, [RELAXED_SIMD_FLAG, vitest, "run", `--execArgv=${RELAXED_SIMD_FLAG}`, testFile], {
    cwd: packageDir,
    encoding: "utf8",
    env: { ...proc.env, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
  });
}

/**
 * The ```ts and ```js code blocks of a README, in order (for tests that run a package's
 * documentation examples, and scripts/consumer-check.mjs, which type-checks them against the
 * packed packages; both number them from 1 the same way). Each block is a self-contained
 * module: it imports what it uses and asserts what it shows.
 */
export async function readmeBlocks(readmePath: string, min = 1, languages: readonly ("ts" | "js")[] = ["ts"]): Promise<string[]> {
  const fs = (await import(/* @vite-ignore */ "node:fs")) as typeof import("node:fs");
  const fence = new RegExp("```(?:" + languages.join("|") + ")\\n([\\s\\S]*?)```", "g");
  const blocks = [...fs.readFileSync(readmePath, "utf8").matchAll(fence)].map((m) => m[1]);
  if (blocks.length < min) throw new Error(`${readmePath}: expected at least ${min} \`\`\`${languages.join("/")} examples, found ${blocks.length}`);
  return blocks;
}

/** The parts of a test framework readmeSuite needs (vitest's describe / it / afterAll). */
export interface SuiteApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>) => void;
  afterAll: (fn: () => void) => void;
  /** Registers a skipped test (vitest's `it.skip`); needed when `skip` is given to readmeSuite. */
  skip?: (name: string, fn: () => Promise<void>) => void;
}

export interface ReadmeSuiteOptions {
  /** Why a block cannot run here (it is then registered as skipped, with the reason in its name), or null. */
  skip?: (code: string) => string | null;
}

/**
 * Registers one test per ```ts block of a README: each block is written next to the test and
 * loaded with `load` (pass `(f) => import(f)` from the test file, so the test runner transforms
 * it). Blocks import the package by name and assert what they show.
 */
export async function readmeSuite(readmePath: string, load: (file: string) => Promise<unknown>, api: SuiteApi, min = 1, opts: ReadmeSuiteOptions = {}): Promise<void> {
  const fs = (await import(/* @vite-ignore */ "node:fs")) as typeof import("node:fs");
  const path = (await import(/* @vite-ignore */ "node:path")) as typeof import("node:path");
  const blocks = await readmeBlocks(readmePath, min);
  const dir = path.join(path.dirname(readmePath), "test", ".readme-blocks");
  fs.mkdirSync(dir, { recursive: true });
  api.afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  api.describe("README examples", () => {
    blocks.forEach((code, i) => {
      const why = opts.skip?.(code) ?? null;
      if (why !== null) {
        if (!api.skip) throw new Error("readmeSuite: a skipped block needs api.skip (vitest's it.skip)");
        console.warn(`[tessera] README block ${i + 1} skipped: ${why}`);
        api.skip(`block ${i + 1} (skipped: ${why})`, async () => undefined);
        return;
      }
      api.it(`block ${i + 1}`, async () => {
        const file = path.join(dir, `block${i}.ts`);
        fs.writeFileSync(file, code);
        await load(file);
      });
    });
  });
}
