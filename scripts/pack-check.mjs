// Packs every public package and installs each alone into an empty project, then runs its
// example through `import` (ESM) and `require` (CJS): users cherry-pick single packages.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pnpm, root, sh } from "./run.mjs";

/** Per package: an ESM and a CJS program that must print "ok". */
const CHECKS = {
  "@tessera/tensor": {
    esm: `import { tensor, matmul, softmax, grad, sum, readSafetensors, writeSafetensors } from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { loadSafetensors } from "@tessera/tensor/node";
import { registerWebGPU, createWebGPUBackend } from "@tessera/tensor/webgpu";
import { registerGpuJs } from "@tessera/tensor/gpujs";
import { compileWasm, startWasmPool, wasmWeightBudget } from "@tessera/tensor/wasm";
if (typeof compileWasm !== "function" || typeof startWasmPool !== "function" || wasmWeightBudget().budget !== 1 << 30) throw new Error("wasm entry");
if (typeof registerWebGPU !== "function" || typeof createWebGPUBackend !== "function" || typeof registerGpuJs !== "function") throw new Error("backend entries");
const x = tensor([[1, 2], [3, 4]]);
const y = softmax(matmul(x, x), -1);
await assertClose(sum(y, -1), [1, 1], { atol: 1e-6 });
const [g] = grad((t) => sum(matmul(t, t)))(x);
if (g.shape.join() !== "2,2" || typeof loadSafetensors !== "function") throw new Error("bad");
const back = readSafetensors(writeSafetensors({ x })).tensors.x;
if (back.dataSync()[3] !== 4) throw new Error("bad round trip");
console.log("ok");`,
    cjs: `const { tensor, add, memory } = require("@tessera/tensor");
const { assertClose } = require("@tessera/tensor/testing");
if (typeof require("@tessera/tensor/webgpu").registerWebGPU !== "function") throw new Error("webgpu entry");
if (typeof require("@tessera/tensor/wasm").compileWasm !== "function") throw new Error("wasm entry");
const y = add(tensor([1, 2]), 1);
assertClose(y, [2, 3]).then(() => { if (memory().numTensors < 1) throw new Error("bad"); console.log("ok"); });`,
  },
  "@tessera/attention": {
    esm: `import { tensor, normal } from "@tessera/tensor";
import { scaledDotProductAttention, rope, KVCache, FLASH_ATTENTION } from "@tessera/attention";
import { registerAttentionWebGPU } from "@tessera/attention/webgpu";
import { listKernels } from "@tessera/tensor";
if (typeof registerAttentionWebGPU !== "function" || !listKernels()[FLASH_ATTENTION]?.includes("webgpu")) throw new Error("attention webgpu entry");
const q = rope(normal([1, 2, 4, 8], 0, 1, { seed: 1 }));
const y = scaledDotProductAttention(q, q, q, { causal: true });
if (y.shape.join() !== "1,2,4,8" || typeof KVCache !== "function") throw new Error("bad");
console.log("ok");`,
    cjs: `const { normal } = require("@tessera/tensor");
const { scaledDotProductAttention } = require("@tessera/attention");
if (typeof require("@tessera/attention/webgpu").registerAttentionWebGPU !== "function") throw new Error("attention webgpu entry");
const q = normal([1, 1, 3, 4], 0, 1, { seed: 2 });
const y = scaledDotProductAttention(q, q, q, { implementation: "tiled", blockSize: 2 });
if (y.shape.join() !== "1,1,3,4") throw new Error("bad");
console.log("ok");`,
  },
  "@tessera/ssm": {
    esm: `import { normal, exp, neg } from "@tessera/tensor";
import { selectiveScan, MambaMixer, retention, SELECTIVE_SCAN } from "@tessera/ssm";
import { registerSsmWebGPU } from "@tessera/ssm/webgpu";
import { listKernels } from "@tessera/tensor";
if (typeof registerSsmWebGPU !== "function" || listKernels()[SELECTIVE_SCAN]?.join() !== "cpu,webgpu") throw new Error("ssm webgpu entry");
const u = normal([1, 4, 9], 0, 1, { seed: 1 });
const r = selectiveScan(u, u, neg(exp(normal([4, 2], 0, 1, { seed: 2 }))), normal([1, 2, 9], 0, 1, { seed: 3 }), normal([1, 2, 9], 0, 1, { seed: 4 }), { deltaSoftplus: true });
const m = new MambaMixer({ dModel: 8, dState: 4, seed: 1 });
const y = m.forward(normal([1, 5, 8], 0, 1, { seed: 5 })).y;
const q = normal([1, 2, 6, 4], 0, 1, { seed: 6 });
if (r.y.shape.join() !== "1,4,9" || y.shape.join() !== "1,5,8" || retention(q, q, q).o.shape.join() !== "1,2,6,4") throw new Error("bad");
console.log("ok");`,
    cjs: `const { normal } = require("@tessera/tensor");
const { S4D, NeuralMemory, MEMORY_PRESETS } = require("@tessera/ssm");
if (typeof require("@tessera/ssm/webgpu").registerSsmWebGPU !== "function") throw new Error("ssm webgpu entry");
const x = normal([1, 7, 4], 0, 1, { seed: 1 });
const a = new S4D({ dModel: 4, dState: 8, seed: 1 }).forward(x).y;
const b = new NeuralMemory({ dModel: 4, numHeads: 1, ...MEMORY_PRESETS.deltaNet, seed: 1 }).forward(x).y;
if (a.shape.join() !== "1,7,4" || b.shape.join() !== "1,7,4") throw new Error("bad");
console.log("ok");`,
  },
  "@tessera/quantize": {
    esm: `import { normal } from "@tessera/tensor";
import { quantize, QuantizedLinearWeight, quantizedLinear, NF4_CODE, QUANTIZED_LINEAR } from "@tessera/quantize";
import { registerQuantizeWebGPU } from "@tessera/quantize/webgpu";
import { listKernels } from "@tessera/tensor";
if (typeof registerQuantizeWebGPU !== "function" || listKernels()[QUANTIZED_LINEAR]?.join() !== "cpu,webgpu") throw new Error("quantize webgpu entry");
const w = new QuantizedLinearWeight(quantize(normal([16, 64], 0, 1, { seed: 1 }), { type: "nf4", blockSize: 64, doubleQuant: true }));
const y = quantizedLinear(normal([1, 64], 0, 1, { seed: 2 }), w);
if (y.shape.join() !== "1,16" || !w.fused || NF4_CODE.length !== 16) throw new Error("bad");
console.log("ok");`,
    cjs: `const { tensor } = require("@tessera/tensor");
const { quantize } = require("@tessera/quantize");
if (typeof require("@tessera/quantize/webgpu").registerQuantizeWebGPU !== "function") throw new Error("quantize webgpu entry");
const q = quantize(tensor([[1, -2, 3, -4]]), { type: "int", bits: 8, symmetric: true, granularity: { kind: "tensor" } });
if (Array.from(q.codes()).join() !== "32,-64,95,-127") throw new Error("bad " + Array.from(q.codes()));
console.log("ok");`,
  },
  "@tessera/codebook": {
    esm: `import { normal } from "@tessera/tensor";
import { VectorQuantizer, FSQ, kmeans, NEAREST_CODE } from "@tessera/codebook";
import { registerCodebookWebGPU } from "@tessera/codebook/webgpu";
import { listKernels } from "@tessera/tensor";
if (typeof registerCodebookWebGPU !== "function" || !listKernels()[NEAREST_CODE]?.includes("webgpu")) throw new Error("codebook webgpu entry");
const vq = new VectorQuantizer({ dim: 8, codebookSize: 16, kmeansInit: true });
const r = vq.forward(normal([64, 8], 0, 1, { seed: 1 }));
const fsq = new FSQ([4, 4]);
if (r.indices.shape.join() !== "64" || fsq.codebookSize !== 16 || kmeans(normal([32, 2], 0, 1, { seed: 2 }), 4).centres.shape.join() !== "4,2") throw new Error("bad");
console.log("ok");`,
    cjs: `const { normal } = require("@tessera/tensor");
const { LFQ, nearestCode } = require("@tessera/codebook");
if (typeof require("@tessera/codebook/webgpu").registerCodebookWebGPU !== "function") throw new Error("codebook webgpu entry");
const i = nearestCode(normal([5, 3], 0, 1, { seed: 1 }), normal([7, 3], 0, 1, { seed: 2 }));
const l = new LFQ({ dim: 4 }).forward(normal([2, 4], 0, 1, { seed: 3 }));
if (i.shape.join() !== "5" || l.indices.shape.join() !== "2") throw new Error("bad");
console.log("ok");`,
  },
  "@tessera/masked": {
    esm: `import { tensor } from "@tessera/tensor";
import { bertMask, randomMask, maskgitSchedule, mlmLoss } from "@tessera/masked";
const r = bertMask([[101, 5, 6, 7, 102]], { maskTokenId: 103, vocabSize: 200, specialTokenIds: [101, 102], seed: 1 });
const m = randomMask(2, 16, 0.75, { seed: 1 });
const l = mlmLoss(tensor([[[1, 2, 3]]]), [[2]]).dataSync()[0];
if (r.labels.shape.join() !== "1,5" || m.keep !== 4 || maskgitSchedule("linear")(0.25) !== 0.75 || !(l > 0)) throw new Error("bad");
console.log("ok");`,
    cjs: `const { t5SpanCorruption, tubeMask } = require("@tessera/masked");
const t = t5SpanCorruption([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], { vocabSize: 100, eosId: 1, seed: 1 });
const v = tubeMask(2, 2, 2, 0.5, { seed: 1 });
if (t.inputs.shape.join() !== "1,10" || t.targets.shape.join() !== "1,4" || v.shape.join() !== "2,2,2") throw new Error("bad " + t.inputs.shape + " " + t.targets.shape);
console.log("ok");`,
  },
  "@tessera/models": {
    esm: `import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelFromConfig, generate } from "@tessera/models";
import { savePretrained } from "@tessera/models/node";
const p = modelFromConfig({ model_type: "llama", vocab_size: 32, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 }, { seed: 1 });
const r = await generate(p.model, [[1, 2]], { maxNewTokens: 3 });
if (r.sequences[0].length !== 5) throw new Error("bad generate");
const dir = mkdtempSync(join(tmpdir(), "m-"));
await savePretrained(dir, p);
const info = JSON.parse(execFileSync("npx", ["--no-install", "tessera", "info", dir], { encoding: "utf8" }));
if (info.modelType !== "llama" || info.parameters < 1) throw new Error("bad bin");
console.log("ok");`,
    cjs: `const { modelFromConfig } = require("@tessera/models");
if (typeof require("@tessera/models/webgpu").registerWebGPU !== "function" || require("@tessera/tensor").listKernels()["attention.flashForward"]?.join() !== "webgpu") throw new Error("models webgpu entry");
const { loadPretrained } = require("@tessera/models/node");
const { tensor } = require("@tessera/tensor");
const p = modelFromConfig({ model_type: "mamba", vocab_size: 16, hidden_size: 8, num_hidden_layers: 1, state_size: 4 }, { seed: 1 });
const y = p.model.forward(tensor([[1, 2, 3]], { dtype: "int32" })).logits;
if (y.shape.join() !== "1,3,16" || typeof loadPretrained !== "function") throw new Error("bad");
console.log("ok");`,
  },
  "@tessera/native": {
    // The tarball's install script compiles the addon with the machine's C compiler (CI installs gcc).
    // Without a compiler (a machine with only Node and npm) the package must still install and
    // say why; CI (TESSERA_REQUIRE_WEBGPU=1: nothing may be skipped) requires the addon.
    esm: `import { matmul, normal, kernelStats, getKernel } from "@tessera/tensor";
import { enableNative, nativeInfo, disableNative } from "@tessera/native";
const info = nativeInfo();
if (!info.available) {
  if (process.env.TESSERA_REQUIRE_WEBGPU === "1") throw new Error("the addon was not built at install: " + info.reason);
  let said = "";
  try { enableNative(); } catch (e) { said = e.message; }
  if (!/not available/.test(said)) throw new Error("enableNative without the addon: " + said);
  console.log("ok");
  process.exit(0);
}
const on = enableNative({ threads: 2 });
if (on.threads !== 2 || on.enabled.join() !== "gemm,elementwise,attention") throw new Error("bad enable");
const y = matmul(normal([64, 32], 0, 1, { seed: 1 }), normal([32, 48], 0, 1, { seed: 2 }));
if (y.shape.join() !== "64,48" || kernelStats().kernel["cpuGemm/cpu"] !== 1) throw new Error("native gemm not used");
// one query row over two keys, one head: out = softmax(q k^T) v
const rows = (data) => ({ data: Float32Array.from(data), offset: 0, strides: [2, 2, 1] });
const out = rows([0, 0]), lse = new Float32Array(1);
const problem = { B: 1, H: 1, Hkv: 1, Tq: 1, Tk: 2, D: 1, Dv: 1, scale: 1, causal: false, window: null, softcap: null, zeroMaskedRows: false, keyBias: null, alibiSlopes: null };
getKernel("cpuAttention", "cpu").forward(problem, rows([1]), rows([0, Math.log(3)]), rows([4, 8]), { data: out.data, offset: 0, strides: [1, 1, 1] }, lse);
if (Math.abs(out.data[0] - 7) > 1e-5 || Math.abs(lse[0] - Math.log(4)) > 1e-5) throw new Error("native attention: " + out.data[0] + " " + lse[0]);
disableNative();
console.log("ok");`,
    cjs: `const { nativeInfo, nativeMatmul } = require("@tessera/native");
if (!nativeInfo().available) {
  if (process.env.TESSERA_REQUIRE_WEBGPU === "1") throw new Error("the addon was not built at install: " + nativeInfo().reason);
  console.log("ok");
  process.exit(0);
}
const c = nativeMatmul(Float32Array.of(1, 2, 3, 4), Float32Array.of(1, 0, 0, 1), 2, 2, 2);
if (c.join() !== "1,2,3,4") throw new Error("bad product");
console.log("ok");`,
  },
  "@tessera/onnx": {
    esm: `import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelFromConfig } from "@tessera/models";
import { savePretrained } from "@tessera/models/node";
import { exportOnnx, decodeModel } from "@tessera/onnx";
import { exportPretrained } from "@tessera/onnx/node";
const p = modelFromConfig({ model_type: "gpt2", vocab_size: 32, n_embd: 16, n_head: 2, n_layer: 1, n_positions: 16 }, { seed: 1 });
const e = await exportOnnx(p.model, p.info, { decode: true });
if (!decodeModel(e.bytes).graph.inputs.some((i) => i.name === "past_key_values.0.key")) throw new Error("bad export");
const q = await exportOnnx(p.model, p.info, { dtype: "int4", blockSize: 16 });
if (!decodeModel(q.bytes).graph.nodes.some((n) => n.opType === "MatMulNBits" && n.domain === "com.microsoft")) throw new Error("bad int4 export");
const dir = mkdtempSync(join(tmpdir(), "o-"));
await savePretrained(dir, p);
await exportPretrained(dir, join(dir, "a.onnx"));
const r = JSON.parse(execFileSync("npx", ["--no-install", "tessera-onnx", "export", dir, join(dir, "b.onnx"), "--dtype", "float16"], { encoding: "utf8" }));
if (r.dtype !== "float16" || readFileSync(join(dir, "b.onnx")).length !== r.bytes) throw new Error("bad bin");
console.log("ok");`,
    cjs: `const { OnnxGraph, float } = require("@tessera/onnx");
const g = new OnnxGraph("t");
const x = g.input("x", "float32", ["n", 4]);
g.output(g.op("LayerNormalization", [x, g.floats([1, 1, 1, 1])], { axis: -1, epsilon: float(1e-5) }), "float32", ["n", 4], "y");
if (!(g.toModel({ opset: 17 }).length > 50) || typeof require("@tessera/onnx/node").exportPretrained !== "function") throw new Error("bad");
console.log("ok");`,
  },
};

const tmp = mkdtempSync(join(tmpdir(), "tessera-pack-"));
let failures = 0;
try {
  for (const dir of readdirSync(join(root, "packages"))) {
    const pkgDir = join(root, "packages", dir);
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    if (pkg.private) continue;
    const check = CHECKS[pkg.name];
    if (!check) {
      console.error(`pack-check: ${pkg.name} is public but has no install check in scripts/pack-check.mjs`);
      failures++;
      continue;
    }
    if (pnpm(["pack", "--pack-destination", tmp], { cwd: pkgDir }) !== 0) {
      failures++;
      continue;
    }
    const tarballOf = (name) => readdirSync(tmp).find((f) => f.startsWith(name.replace("@", "").replace("/", "-") + "-") && f.endsWith(".tgz"));
    const tarball = tarballOf(pkg.name);
    // Workspace dependencies are not on the registry yet: install their tarballs alongside.
    // (transitively: @tessera/onnx needs @tessera/models, which needs @tessera/attention, ...).
    const wsOf = (p) =>
      Object.entries(p.dependencies ?? {})
        .filter(([, v]) => String(v).startsWith("workspace:"))
        .map(([n]) => n);
    const wsDeps = wsOf(pkg);
    for (let i = 0; i < wsDeps.length; i++) {
      const depPkg = JSON.parse(readFileSync(join(root, "packages", wsDeps[i].split("/")[1], "package.json"), "utf8"));
      for (const d of wsOf(depPkg)) if (!wsDeps.includes(d)) wsDeps.push(d);
    }
    for (const dep of wsDeps) if (!tarballOf(dep)) pnpm(["pack", "--pack-destination", tmp], { cwd: join(root, "packages", dep.split("/")[1]) });
    const proj = join(tmp, `${dir}-project`);
    execFileSync("mkdir", ["-p", proj]);
    writeFileSync(join(proj, "package.json"), JSON.stringify({ name: "pack-check", version: "1.0.0", private: true }));
    if (sh("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(tmp, tarball), ...wsDeps.map((d) => join(tmp, tarballOf(d)))], { cwd: proj }) !== 0) {
      failures++;
      continue;
    }
    writeFileSync(join(proj, "check.mjs"), check.esm);
    writeFileSync(join(proj, "check.cjs"), check.cjs);
    for (const f of ["check.mjs", "check.cjs"]) {
      let out = "";
      try {
        out = execFileSync("node", [f], { cwd: proj, encoding: "utf8" }).trim();
      } catch (e) {
        out = String(e.stderr || e.message);
      }
      const ok = out.split("\n").pop() === "ok";
      console.log(`pack-check ${pkg.name} ${f}: ${ok ? "ok" : `FAILED\n${out}`}`);
      if (!ok) failures++;
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
