/**
 * A numeric seed starts one random stream for the whole model (as `torch.manual_seed` before
 * building one does): the same seed gives the same weights, and every randomly initialised
 * parameter draws its own values. Until session 12 each layer (and each projection inside a layer)
 * restarted the stream from the number, so all layers of a seeded model were the same copy, which
 * also let onnxruntime-node read the benchmark's GPT-2 layers from cache.
 */
import { describe, expect, it } from "vitest";
import { Generator, type Tensor } from "@tessera/tensor";
import { ConvResBlock, electraFromConfigs, MLP, modelFromConfig, SelfAttention, type RawConfig } from "../src/index";
import { CONFIGS, ELECTRA_DISCRIMINATOR } from "./configs";

const SMALL_IMAGE = { image_size: 16, patch_size: 4, hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 48 };
const MODELS: [string, RawConfig, string?][] = [
  ...Object.entries(CONFIGS).map(([name, c]): [string, RawConfig] => [name, c]),
  ["electra", ELECTRA_DISCRIMINATOR],
  [
    "vit_mae",
    {
      model_type: "vit_mae",
      ...SMALL_IMAGE,
      num_channels: 2,
      decoder_hidden_size: 16,
      decoder_num_hidden_layers: 2,
      decoder_num_attention_heads: 2,
      decoder_intermediate_size: 32,
      mask_ratio: 0.75,
    },
    "masked-image-pretraining",
  ],
  ["beit", { model_type: "beit", ...SMALL_IMAGE, num_channels: 3, vocab_size: 30, use_mask_token: true }, "masked-image-modeling"],
];

const values = (params: Record<string, Tensor>) => Object.fromEntries(Object.entries(params).map(([k, t]) => [k, Array.from(t.dataSync() as Float32Array)]));

function build(config: RawConfig, task: string | undefined, seed: number): Record<string, number[]> {
  const p = modelFromConfig(config, (task ? { task, seed } : { seed }) as never);
  try {
    return values(p.model.namedParameters());
  } finally {
    p.model.dispose();
  }
}

/** Signs of the first 32 values: a restarted stream repeats them (at any scale), chance does so with p = 2^-32. */
const signs = (v: number[]) =>
  v
    .slice(0, 32)
    .map((x) => (x > 0 ? "+" : x < 0 ? "-" : "0"))
    .join("");

describe("seeded initialisation: one stream per model", () => {
  for (const [name, config, task] of MODELS) {
    it(`${name}: the same seed gives the same weights; no two random parameters start alike`, () => {
      const a = build(config, task, 7);
      const again = build(config, task, 7);
      const other = build(config, task, 8);
      for (const k of Object.keys(a)) expect(again[k], k).toEqual(a[k]);
      // Random parameters: the ones another seed changes (norm scales, zero biases and the SSMs'
      // deterministic A / D are the same whatever the seed); those of a single sign (Mamba's
      // dt bias) are left out of the sign test.
      const random = Object.keys(a).filter((k) => a[k].length >= 32 && a[k].some((x, i) => x !== other[k][i]));
      expect(random.length, "random parameters").toBeGreaterThan(4);
      const seen = new Map<string, string>();
      for (const k of random) {
        const s = signs(a[k]);
        if (!s.includes("+") || !s.includes("-")) continue;
        expect(seen.get(s), `${k} starts with the same draws as ${seen.get(s)}`).toBeUndefined();
        seen.set(s, k);
      }
      // Layers 0 and 1 differ in every random matrix.
      const layer0 = random.filter((k) => /(^|\.)blocks\.0\./.test(k));
      expect(layer0.length, "random parameters of layer 0").toBeGreaterThan(0);
      for (const k of layer0) {
        const k1 = k.replace(/(^|\.)blocks\.0\./, "$1blocks.1.");
        if (a[k1]) expect(a[k1], k1).not.toEqual(a[k]);
      }
    });
  }

  it("electraFromConfigs: the generator draws after the discriminator (one stream for the pair)", () => {
    const build = (seed: number) => {
      const e = electraFromConfigs(ELECTRA_DISCRIMINATOR, undefined, { seed });
      try {
        return [values(e.discriminator.namedParameters()), values(e.generator.namedParameters())] as const;
      } finally {
        e.dispose();
      }
    };
    const [d, g] = build(7);
    const [d2, g2] = build(7);
    expect(d2).toEqual(d);
    expect(g2).toEqual(g);
    const starts = new Map<string, string>();
    for (const [part, params] of [
      ["discriminator", d],
      ["generator", g],
    ] as const) {
      for (const [k, v] of Object.entries(params)) {
        if (part === "generator" && k.startsWith("encoder.embeddings.")) continue; // the discriminator's, shared
        const s = signs(v);
        if (v.length < 32 || !s.includes("+") || !s.includes("-")) continue;
        expect(starts.get(s), `${part}.${k} starts as ${starts.get(s)}`).toBeUndefined();
        starts.set(s, `${part}.${k}`);
      }
    }
  });

  it("a SelfAttention or MLP built alone with a numeric seed gives each projection its own draws; a Generator is drawn from in turn", () => {
    const attention = new SelfAttention({ dModel: 16, nHeads: 2, seed: 3 });
    const mlp = new MLP({ dModel: 16, hidden: 32, gated: true, seed: 3 });
    const res = new ConvResBlock(8, 16, { groups: 4, seed: 3 });
    try {
      for (const [module, count] of [
        [attention, 4], // q, k, v, o
        [mlp, 3], // gate, up, down
        [res, 3], // conv1, conv2, skip
      ] as const) {
        const starts = Object.entries(module.namedParameters())
          .filter(([k, t]) => k.endsWith("weight") && t.shape.length >= 2) // matrices and kernels, not norm scales
          .map(([k, t]) => [k, signs(Array.from(t.dataSync() as Float32Array))]);
        expect(starts.length).toBe(count);
        expect(new Set(starts.map(([, s]) => s)).size, JSON.stringify(starts)).toBe(count);
      }
    } finally {
      attention.dispose();
      mlp.dispose();
      res.dispose();
    }
    // One Generator shared by two modules: the second continues where the first stopped.
    const gen = new Generator(5);
    const first = new MLP({ dModel: 8, hidden: 8, seed: gen });
    const second = new MLP({ dModel: 8, hidden: 8, seed: gen });
    try {
      expect(Array.from(second.up.weight.dataSync())).not.toEqual(Array.from(first.up.weight.dataSync()));
    } finally {
      first.dispose();
      second.dispose();
    }
  });
});
