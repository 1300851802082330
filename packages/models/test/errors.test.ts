/**
 * Bad input fails with errors that name the file, the tensor or config field, and the shapes;
 * nothing is half-loaded.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { loadSafetensors, saveSafetensors } from "@tessera/tensor/node";
import { fromPretrained, generate, lmLoss, lrSchedule, modelFromConfig, type CausalLM } from "../src/index";
import { loadCausalLM, loadPretrained } from "../src/node";
import { hfDir } from "./helpers";
import { CONFIGS } from "./configs";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fixtureConfig = (name: string) => JSON.parse(readFileSync(join(hfDir(name), "config.json"), "utf8"));

describe("loading errors", () => {
  it("a missing tensor, a misshaped tensor and an unused tensor are named with shapes", () => {
    const cfg = fixtureConfig("gpt2");
    const w = loadSafetensors(join(hfDir("gpt2"), "model.safetensors")).tensors;
    const missing = { ...w };
    delete missing["transformer.h.1.ln_2.bias"];
    expect(() => fromPretrained(cfg, missing)).toThrow(/load gpt2: model.safetensors lacks 1 tensor\(s\): 'transformer.h.1.ln_2.bias' \[64\]/);
    const misshaped = { ...w, "transformer.h.0.attn.c_attn.weight": T.zeros([64, 191]) };
    expect(() => fromPretrained(cfg, misshaped)).toThrow(/tensor 'transformer.h.0.attn.c_attn.weight' has shape \[64,191\] but the config implies \[64,192\]/);
    const extra = { ...w, "transformer.h.2.ln_1.weight": T.ones([64]) };
    expect(() => fromPretrained(cfg, extra)).toThrow(/has 1 tensor\(s\) this gpt2 config does not use: 'transformer.h.2.ln_1.weight' \[64\]/);
    const ints = { ...w, "transformer.ln_f.weight": T.ones([64], { dtype: "int32" }) };
    expect(() => fromPretrained(cfg, ints)).toThrow(/'transformer.ln_f.weight' has dtype int32/);
    // Old checkpoints' attention-mask buffers are ignored; a tied lm_head copy too.
    const buffers = { ...w, "transformer.h.0.attn.bias": T.ones([1, 1, 64, 64]), "lm_head.weight": w["transformer.wte.weight"] };
    expect(fromPretrained(cfg, buffers).modelType).toBe("gpt2");
    // A llama whose head is not tied needs lm_head.
    const lw = loadSafetensors(join(hfDir("llama"), "model.safetensors")).tensors;
    delete lw["lm_head.weight"];
    expect(() => fromPretrained(fixtureConfig("llama"), lw)).toThrow(/lacks 1 tensor\(s\): 'lm_head.weight' \[128,64\]/);
  });

  it("unsupported or malformed config fields are errors that name the field", () => {
    const base = CONFIGS;
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...base.gpt2, add_cross_attention: true }, /config.json \(gpt2\) field 'add_cross_attention' = true is not supported: cross-attention/],
      [{ ...base.gpt2, n_head: 2.5 }, /field 'n_head' must be a non-negative integer, got 2.5/],
      [{ ...base.gpt2, n_embd: undefined }, /config.json \(gpt2\) field 'n_embd' is required/],
      [{ ...base.gpt2, activation_function: "gelu_fast" }, /activation 'gelu_fast' is not supported/],
      [{ ...base.llama, rope_parameters: { rope_theta: 1e4, rope_type: "yarn", factor: 4 } }, /rope type 'yarn' is not supported \(supported: default, linear, dynamic, llama3\)/],
      [{ ...base.llama, rope_scaling: { type: "linear" } }, /rope parameter 'factor' must be a number/],
      [{ ...base.llama, num_key_value_heads: 4 }, /config.json \(llama\): num_attention_heads 6 must be a multiple of num_key_value_heads 4/],
      [{ ...base.qwen2, use_sliding_window: true }, /'use_sliding_window' = true is not supported/],
      [{ ...base.mamba, intermediate_size: 50 }, /'intermediate_size' = 50 is not supported: must equal expand \* hidden_size = 48/],
      [{ ...base.mamba2, num_heads: 3 }, /'num_heads' = 3 is not supported: must equal expand \* hidden_size \/ head_dim = 8/],
      [{ ...base.bert, position_embedding_type: "relative_key" }, /'position_embedding_type' = "relative_key" is not supported/],
      [{ ...base.vit, image_size: 13 }, /config.json \(vit\): image_size 13 must be a multiple of patch_size 4/],
      [{ model_type: "t5" }, /model_type "t5" is not supported \(supported: gpt2, llama, mistral, qwen2, mamba, mamba2, bert, electra, vit, vit_mae, beit\)/],
    ];
    for (const [cfg, re] of bad) expect(() => modelFromConfig(cfg)).toThrow(re);
  });

  it("folder problems: no weights, bad JSON, a shard index that lies", async () => {
    const d = mkdtempSync(join(tmpdir(), "tessera-bad-"));
    dirs.push(d);
    expect(() => loadPretrained(d)).toThrow(/cannot read config '.*config.json'/);
    writeFileSync(join(d, "config.json"), "{ not json");
    expect(() => loadPretrained(d)).toThrow(/config '.*config.json' is not valid JSON/);
    writeFileSync(join(d, "config.json"), JSON.stringify(fixtureConfig("gpt2")));
    writeFileSync(join(d, "pytorch_model.bin"), "x");
    expect(() => loadPretrained(d)).toThrow(/has neither model.safetensors nor model.safetensors.index.json \(pytorch_model.bin is a pickle/);
    const weights = loadSafetensors(join(hfDir("gpt2"), "model.safetensors")).tensors;
    const names = Object.keys(weights);
    await saveSafetensors(join(d, "a.safetensors"), Object.fromEntries(names.slice(0, 5).map((n) => [n, weights[n]])));
    const map = Object.fromEntries(names.map((n) => [n, "a.safetensors"]));
    writeFileSync(join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: map }));
    expect(() => loadPretrained(d)).toThrow(new RegExp(`shard index lists ${names.length - 5} tensor\\(s\\) no shard holds`));
    writeFileSync(join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: { ...map, [names[0]]: "b.safetensors" } }));
    copyFileSync(join(d, "a.safetensors"), join(d, "b.safetensors"));
    expect(() => loadPretrained(d)).toThrow(/tensor '.*' is in shard 'a.safetensors' but the index puts it in 'b.safetensors'/);
    writeFileSync(join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: { x: "../x.safetensors" } }));
    expect(() => loadPretrained(d)).toThrow(/shard index names '..\/x.safetensors', outside the folder/);
    writeFileSync(join(d, "model.safetensors"), new Uint8Array([1, 2, 3]));
    expect(() => loadPretrained(d)).toThrow(/safetensors/);
  });
});

describe("shard indexes from untrusted files", () => {
  it("names like Object.prototype keys, non-string entries, and no tensors leaked when a shard fails", async () => {
    const d = mkdtempSync(join(tmpdir(), "tessera-shard-"));
    dirs.push(d);
    writeFileSync(join(d, "config.json"), JSON.stringify(fixtureConfig("gpt2")));
    const weights = loadSafetensors(join(hfDir("gpt2"), "model.safetensors")).tensors;
    const names = Object.keys(weights);
    await saveSafetensors(join(d, "a.safetensors"), weights);
    const map = Object.fromEntries(names.map((n) => [n, "a.safetensors"]));
    const index = (m: unknown) => writeFileSync(join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: m }));
    const live = () => T.memory().numTensors;
    T.dispose(Object.values(weights));
    const before = live();
    index({ ...map, constructor: "a.safetensors" });
    expect(() => loadPretrained(d)).toThrow("loadPretrained: shard index lists 1 tensor(s) no shard holds: constructor");
    expect(live()).toBe(before);
    index({ ...map, [names[0]]: 7 });
    expect(() => loadPretrained(d)).toThrow(`shard index '${join(d, "model.safetensors.index.json")}': weight_map['${names[0]}'] must be a file name (string), got 7`);
    index([1, 2]);
    expect(() => loadPretrained(d)).toThrow(/has no weight_map object/);
    // The second shard is corrupt: the tensors read from the first are freed.
    writeFileSync(join(d, "z.safetensors"), new Uint8Array([1, 2, 3]));
    index({ ...map, extra: "z.safetensors" });
    expect(() => loadPretrained(d)).toThrow(/z.safetensors/);
    expect(live()).toBe(before);
  });
});

describe("runtime errors", () => {
  it("forward, generate, loss and schedules reject bad arguments", async () => {
    const m = modelFromConfig(CONFIGS.gpt2, { seed: 1 }).model as CausalLM;
    expect(() => m.forward(T.zeros([2, 3]))).toThrow(/CausalLM.forward: ids must be an integer tensor \[B, T\], got float32 \[2,3\]/);
    expect(() => m.forward(T.zeros([1, 41], { dtype: "int32" }))).toThrow(/positions 0..40 exceed max_position_embeddings 40/);
    await expect(generate(m, [[1, 2], [3]], { maxNewTokens: 2 })).rejects.toThrow(/equal-length token lists/);
    await expect(generate(m, [[1, 99]], { maxNewTokens: 2 })).rejects.toThrow(/token id 99 is outside the vocabulary \[0, 37\)/);
    await expect(generate(m, [[1]], { maxNewTokens: 2, topP: 0 })).rejects.toThrow(/topP must lie in \(0, 1\]/);
    await expect(generate(m, [[1]], { maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens must be a non-negative integer/);
    expect(() => lmLoss(T.zeros([1, 3, 5]), T.zeros([1, 4], { dtype: "int32" }))).toThrow(/lmLoss: logits \[1,3,5\] must be \[B, T, V\] and labels \[1,4\]/);
    expect(() => lrSchedule({ peak: 1e-3, warmup: 10, total: 5 })).toThrow(/0 <= warmup < total/);
    m.dispose();
  });
});

describe("typed loading", () => {
  it("loadCausalLM / { task } type the model and refuse a folder for another task before loading", async () => {
    const { model, task } = loadCausalLM(hfDir("gpt2"));
    expect(task).toBe("causal-lm");
    const out = await model.generate([[1, 2]], { maxNewTokens: 2 });
    expect(out.sequences[0].length).toBe(4);
    model.dispose();
    const before = T.memory().numTensors;
    expect(() => loadPretrained(hfDir("gpt2"), { task: "masked-lm" })).toThrow('expected a masked-lm model, but config.json model_type "gpt2" is a causal-lm model');
    expect(T.memory().numTensors).toBe(before);
    expect(() => modelFromConfig(CONFIGS.gpt2, { task: "image-classification" })).toThrow(/modelFromConfig: expected a image-classification model/);
    const bert = modelFromConfig({ model_type: "bert", vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 }, { seed: 1 });
    expect(bert.model.forward(T.tensor([[1, 2]], { dtype: "int32" })).logits.shape).toEqual([1, 2, 10]);
  });
});
