import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";

class MLP extends T.Module {
  readonly fc1: T.Linear;
  readonly fc2: T.Linear;
  readonly blocks: T.ModuleList<T.LayerNorm>;
  constructor() {
    super();
    this.fc1 = this.registerModule("fc1", new T.Linear(4, 8, { seed: 1 }));
    this.fc2 = this.registerModule("fc2", new T.Linear(8, 2, { seed: 2, bias: false }));
    this.blocks = this.registerModule("blocks", new T.ModuleList([new T.LayerNorm(8), new T.LayerNorm(8)]));
  }
  forward(x: T.Tensor): T.Tensor {
    let h = T.gelu(this.fc1.forward(x));
    for (const ln of this.blocks) h = ln.forward(h);
    return this.fc2.forward(h);
  }
}

describe("Module", () => {
  it("names parameters with dotted paths (safetensors keys)", () => {
    const m = new MLP();
    expect(Object.keys(m.namedParameters())).toEqual(["fc1.weight", "fc1.bias", "fc2.weight", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]);
    expect(m.fc1.weight.shape).toEqual([8, 4]);
  });

  it("saves and reloads through safetensors bit-identically; loadStateDict validates first", () => {
    const a = new MLP();
    const b = new MLP();
    T.assign(b.fc1.weight, 0);
    const { tensors } = T.readSafetensors(T.writeSafetensors(a.stateDict()));
    b.loadStateDict(tensors);
    for (const [k, t] of Object.entries(a.stateDict())) expect([...b.stateDict()[k].dataSync()]).toEqual([...t.dataSync()]);
    const bad = { ...tensors, "fc1.weight": T.zeros([4, 8]) };
    const before = [...b.fc1.bias!.dataSync()];
    expect(() => b.loadStateDict(bad)).toThrow("loadStateDict: 'fc1.weight' has shape [4,8] but the module expects [8,4]");
    expect([...b.fc1.bias!.dataSync()]).toEqual(before); // nothing written
    const { "fc2.weight": _drop, ...missing } = tensors;
    expect(() => b.loadStateDict(missing)).toThrow("loadStateDict: missing keys [fc2.weight]; unexpected keys []");
  });

  it("train/eval propagate and switch Dropout", () => {
    const m = new T.ModuleList([new T.Dropout(0.5, { seed: 1 })]);
    m.eval();
    expect(m.at(0).training).toBe(false);
    expect(
      m
        .at(0)
        .forward(T.ones([4]))
        .arraySync(),
    ).toEqual([1, 1, 1, 1]);
    m.train();
    expect(
      m
        .at(0)
        .forward(T.ones([1000]))
        .dataSync()
        .some((v) => v === 0),
    ).toBe(true);
  });

  it("layers compute what their functional ops do", async () => {
    const lin = new T.Linear(3, 2, { seed: 3 });
    const x = T.normal([4, 3], 0, 1, { seed: 4 });
    await assertClose(lin.forward(x), T.add(T.matmul(x, T.transpose(lin.weight)), lin.bias!), { atol: 1e-6, rtol: 1e-6 });
    const bound = 1 / Math.sqrt(3);
    expect(T.max(T.abs(lin.weight)).itemSync()).toBeLessThanOrEqual(bound);
    const emb = new T.Embedding(10, 4, { seed: 5 });
    expect(emb.forward(T.tensor([[1, 2]], { dtype: "int32" })).shape).toEqual([1, 2, 4]);
    const rms = new T.RMSNorm(3, { eps: 1e-5 });
    await assertClose(rms.forward(x), T.rmsNorm(x, T.ones([3]), 1e-5), { atol: 0, rtol: 0 });
  });
});

describe("optimizers follow torch.optim's update rules", () => {
  it("SGD with momentum, dampening and weight decay (two steps by hand)", () => {
    const p = T.tensor([1, -2]);
    const opt = new T.SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 });
    const g = T.tensor([0.5, 0.25]);
    opt.step([g]);
    // step 1: d = g + wd*p; buf = d; p -= lr*buf
    const d1 = [0.5 + 0.01 * 1, 0.25 + 0.01 * -2];
    const p1 = [1 - 0.1 * d1[0], -2 - 0.1 * d1[1]];
    expect([...p.dataSync()].map((v, i) => v - p1[i]).every((e) => Math.abs(e) < 1e-6)).toBe(true);
    opt.step([g]);
    // step 2: d = g + wd*p1; buf = 0.9*buf + 0.9*d; p -= lr*buf
    const d2 = [0.5 + 0.01 * p1[0], 0.25 + 0.01 * p1[1]];
    const buf2 = [0.9 * d1[0] + 0.9 * d2[0], 0.9 * d1[1] + 0.9 * d2[1]];
    const p2 = [p1[0] - 0.1 * buf2[0], p1[1] - 0.1 * buf2[1]];
    expect([...p.dataSync()].map((v, i) => v - p2[i]).every((e) => Math.abs(e) < 1e-6)).toBe(true);
  });

  it("AdamW: decoupled decay then the bias-corrected step", () => {
    const p = T.tensor([1, -1]);
    const opt = new T.AdamW({ p }, { lr: 0.01, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 });
    const grads = [
      [0.2, -0.4],
      [0.1, 0.3],
    ];
    let m = [0, 0],
      v = [0, 0],
      ref = [1, -1];
    grads.forEach((g, k) => {
      opt.step({ p: T.tensor(g) });
      const t = k + 1;
      ref = ref.map((pi, i) => {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
        const mh = m[i] / (1 - 0.9 ** t);
        const vh = v[i] / (1 - 0.99 ** t);
        return pi * (1 - 0.01 * 0.1) - (0.01 * mh) / (Math.sqrt(vh) + 1e-8);
      });
      m = [...m];
      v = [...v];
    });
    [...p.dataSync()].forEach((x, i) => expect(x).toBeCloseTo(ref[i], 6));
  });

  it("training an MLP on a synthetic regression task lowers the loss", () => {
    const m = new MLP();
    const opt = new T.AdamW(m.namedParameters(), { lr: 3e-2, weightDecay: 0 });
    const x = T.normal([64, 4], 0, 1, { seed: 10 });
    const y = T.stack([T.sum(x, 1), T.sub(T.select(x, 1, 0), T.select(x, 1, 3))], 1);
    const losses: number[] = [];
    for (let i = 0; i < 150; i++) {
      const { value, grads } = T.gradients(() => T.mseLoss(m.forward(x), y), m.namedParameters());
      losses.push(value.itemSync());
      opt.step(grads);
      T.dispose([value, grads]);
    }
    expect(losses[losses.length - 1]).toBeLessThan(0.1 * losses[0]);
  });
});
