/**
 * Configs are checked before anything is allocated: types, ranges, divisibility, and the float32
 * parameter bytes the sizes imply (against a limit an option raises); every build frees its
 * temporaries, and a build that fails part-way frees what it built.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { modelFromConfig, type RawConfig } from "../src/index";
import { loadPretrained } from "../src/node";
import { CONFIGS } from "./configs";
import { ARCHS, hfDir } from "./helpers";

const live = () => T.memory().numTensors;
const build =
  (cfg: RawConfig, opts = {}) =>
  () =>
    modelFromConfig(cfg, { seed: 1, ...opts }).model.dispose();

describe("config validation before allocation", () => {
  it("a huge layer count fails at once, naming the fields and the size", () => {
    const t0 = Date.now();
    const before = live();
    expect(build({ ...CONFIGS.gpt2, n_layer: 1e9 })).toThrow(
      /^loadModel: config.json \(gpt2\) describes about \d+(\.\d)? GiB of float32 parameters \(n_embd 24, n_head 3, n_layer 1000000000, vocab_size 37, n_inner 40, n_positions 40\), above the 8\.0 GiB limit; pass \{ maxParameterBytes \} to allow it$/,
    );
    expect(Date.now() - t0).toBeLessThan(500);
    expect(live()).toBe(before);
  });

  it("every architecture: an oversized config is refused by the budget", () => {
    const big: Record<string, RawConfig> = {
      gpt2: { ...CONFIGS.gpt2, vocab_size: 2e9 },
      llama: { ...CONFIGS.llama, num_hidden_layers: 1e7 },
      mistral: { ...CONFIGS.mistral, intermediate_size: 2e9 },
      qwen2: { ...CONFIGS.qwen2, vocab_size: 2e9 },
      mamba: { ...CONFIGS.mamba, num_hidden_layers: 1e8 },
      mamba2: { ...CONFIGS.mamba2, num_hidden_layers: 1e8 },
      bert: { ...CONFIGS.bert, num_hidden_layers: 1e8 },
      vit: { ...CONFIGS.vit, num_hidden_layers: 1e8 },
    };
    for (const [name, cfg] of Object.entries(big)) expect(build(cfg), name).toThrow(/of float32 parameters .* above the 8\.0 GiB limit/);
  });

  it("maxParameterBytes lowers or raises the limit; its value is checked", () => {
    expect(build(CONFIGS.gpt2, { maxParameterBytes: 1000 })).toThrow(/above the 0\.0 MiB limit/);
    expect(build(CONFIGS.gpt2, { maxParameterBytes: 1e7 })).not.toThrow();
    expect(build(CONFIGS.gpt2, { maxParameterBytes: -1 })).toThrow("loadModel: maxParameterBytes must be a positive number, got -1");
  });

  it("sizes beyond what can be indexed, negative epsilons and rope bases, and indivisible heads", () => {
    expect(build({ ...CONFIGS.gpt2, vocab_size: 1e12 })).toThrow("loadModel: config.json (gpt2) field 'vocab_size' = 1000000000000 is above the 2147483647 limit");
    expect(build({ ...CONFIGS.gpt2, layer_norm_epsilon: -1 })).toThrow("loadModel: config.json (gpt2) field 'layer_norm_epsilon' must be positive, got -1");
    expect(build({ ...CONFIGS.llama, rms_norm_eps: 0 })).toThrow(/field 'rms_norm_eps' must be positive, got 0/);
    expect(build({ ...CONFIGS.llama, rope_theta: -1 })).toThrow("loadModel: config.json (llama) rope_theta must be a positive number, got -1");
    expect(build({ ...CONFIGS.qwen2, rope_parameters: { rope_theta: 1e6, rope_type: "linear", factor: -2 } })).toThrow(/rope parameter 'factor' must be a number > 0, got -2/);
    expect(build({ ...CONFIGS.bert, layer_norm_eps: "1e-12" })).toThrow(/field 'layer_norm_eps' must be a finite number, got "1e-12"/);
    expect(build({ ...CONFIGS.gpt2, n_head: 5 })).toThrow("loadModel: config.json (gpt2): n_embd 24 must be a multiple of n_head 5");
    expect(build({ ...CONFIGS.mistral, num_key_value_heads: 3 })).toThrow("loadModel: config.json (mistral): num_attention_heads 4 must be a multiple of num_key_value_heads 3");
    expect(build({ ...CONFIGS.vit, patch_size: 5 })).toThrow("loadModel: config.json (vit): image_size 12 must be a multiple of patch_size 5");
    expect(build({ ...CONFIGS.gpt2, initializer_range: -0.1 })).toThrow(/initializer_range' must be >= 0, got -0.1/);
    expect(build({ ...CONFIGS.gpt2, n_layer: 2.5 })).toThrow(/n_layer' must be a non-negative integer, got 2.5/);
  });
});

describe("builds leave no tensors behind", () => {
  it("modelFromConfig + dispose is flat for every architecture (no init temporaries)", () => {
    for (const [name, cfg] of Object.entries(CONFIGS)) {
      const before = live();
      build(cfg)();
      expect(live(), name).toBe(before);
    }
  });

  it("loadPretrained + dispose is flat for every fixture", () => {
    for (const arch of ARCHS) {
      const before = live();
      loadPretrained(hfDir(arch)).model.dispose();
      expect(live(), arch).toBe(before);
    }
  });

  it("a build that fails part-way (a mixer factory that throws at layer 1) frees the layers it built", () => {
    const before = live();
    const mixer = (l: number) => {
      if (l === 1) throw new Error("factory failed");
      return undefined;
    };
    for (const name of ["gpt2", "llama", "mamba", "bert", "vit"]) expect(() => modelFromConfig(CONFIGS[name], { seed: 1, mixer }), name).toThrow("factory failed");
    expect(live()).toBe(before);
  });
});
