import { describe, expect, it } from "vitest";
import * as T from "../src/index";

describe("views share storage where strides allow", () => {
  it("reshape of a contiguous tensor, transpose, permute, expand, slice and unsqueeze are views", () => {
    const x = T.arange(24, undefined, 1, { dtype: "float32" });
    const r = T.reshape(x, [2, 3, 4]);
    const views = [
      r,
      T.transpose(r),
      T.permute(r, [2, 0, 1]),
      T.expand(T.reshape(x, [1, 24]), [3, 24]),
      T.slice(r, [null, [0, 3, 2], 1]),
      T.unsqueeze(r, 1),
      T.squeeze(T.unsqueeze(r, 0)),
    ];
    for (const v of views) expect(v.storage).toBe(x.storage);
  });

  it("reshape of a non-contiguous tensor copies only when it must (PyTorch's view rule)", () => {
    const x = T.reshape(T.arange(24, undefined, 1, { dtype: "float32" }), [2, 3, 4]);
    const t = T.transpose(x, 0, 1); // [3,2,4]: last dim still contiguous
    const merged = T.reshape(t, [3, 8]); // merges dims 1 and 2: impossible without a copy
    expect(merged.storage).not.toBe(x.storage);
    const split = T.reshape(t, [3, 2, 2, 2]); // splits the contiguous last dim: a view
    expect(split.storage).toBe(x.storage);
    expect(split.arraySync()).toEqual(T.reshape(T.contiguous(t), [3, 2, 2, 2]).arraySync());
    expect(merged.arraySync()).toEqual(T.reshape(T.contiguous(t), [3, 8]).arraySync());
  });

  it("slices with steps and negative bounds index like NumPy", () => {
    const x = T.reshape(T.arange(20), [4, 5]);
    expect(T.slice(x, [[-2], [1, null, 2]]).arraySync()).toEqual([
      [11, 13],
      [16, 18],
    ]);
    expect(T.slice(x, [1, [-3, -1]]).arraySync()).toEqual([7, 8]);
    expect(T.slice(x, [[3, 1]]).shape).toEqual([0, 5]);
    expect(T.select(x, 1, -1).arraySync()).toEqual([4, 9, 14, 19]);
  });

  it("ops read strided and broadcast views directly", () => {
    const x = T.reshape(T.arange(6, undefined, 1, { dtype: "float32" }), [2, 3]);
    expect(T.add(T.transpose(x), T.slice(x, [0, [0, 2]])).arraySync()).toEqual([
      [0, 4],
      [1, 5],
      [2, 6],
    ]);
    expect(T.exp(T.expand(T.tensor([[0]]), [2, 2])).arraySync()).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });

  it("0-d tensors and empty tensors behave", () => {
    const s = T.scalar(3);
    expect(s.shape).toEqual([]);
    expect(T.add(s, T.ones([2])).arraySync()).toEqual([4, 4]);
    const e = T.zeros([0, 3]);
    expect(T.sum(e, 0).arraySync()).toEqual([0, 0, 0]);
    expect(T.exp(e).shape).toEqual([0, 3]);
  });

  it("assign writes through to every view", () => {
    const x = T.zeros([2, 2]);
    const row = T.select(x, 0, 1);
    T.assign(
      x,
      T.tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    expect(row.arraySync()).toEqual([3, 4]);
    T.assign(x, 7);
    expect(x.arraySync()).toEqual([
      [7, 7],
      [7, 7],
    ]);
  });
});

describe("float32Values: a kernel's read of a cpu tensor", () => {
  it("is a view of the storage (no copy) for contiguous float32, at the view's offset", () => {
    const x = T.arange(24, undefined, 1, { dtype: "float32" });
    const rows = T.narrow(T.reshape(x, [6, 4]), 0, 2, 3); // contiguous rows 2..4: offset 8
    const v = T.float32Values(rows);
    expect([...v]).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(v.buffer).toBe((x.storage.data as Float32Array).buffer); // aliases the storage
  });

  it("is a fresh copy for strided views and for float16 (widened)", () => {
    const x = T.reshape(T.arange(6, undefined, 1, { dtype: "float32" }), [2, 3]);
    const t = T.transpose(x);
    const v = T.float32Values(t);
    expect([...v]).toEqual([0, 3, 1, 4, 2, 5]);
    expect(v.buffer).not.toBe((x.storage.data as Float32Array).buffer);
    const h = T.tensor([0.5, -2, 1024], { dtype: "float16" });
    expect([...T.float32Values(h)]).toEqual([0.5, -2, 1024]);
  });

  it("names itself in its errors: disposed tensors, integer dtypes", () => {
    const x = T.tensor([1, 2]);
    x.dispose();
    expect(() => T.float32Values(x)).toThrow(/float32Values.*dispose/);
    expect(() => T.float32Values(T.tensor([1, 2], { dtype: "int32" }))).toThrow(/float32Values: tensor \[2\] is int32/);
  });
});

describe("copies of views with short strided rows (one nested loop, no call per row)", () => {
  // plain nested arrays: base[b][r][c] = 100 b + 10 r + c
  const B = 2,
    R = 5,
    C = 4;
  const plain = Array.from({ length: B }, (_, b) => Array.from({ length: R }, (_, r) => Array.from({ length: C }, (_, c) => 100 * b + 10 * r + c)));
  const base = () => T.tensor(plain);

  it("contiguous() of a narrowed last axis (rows of 3, 4 apart) and of a transposed one (rows of 2, step 5)", () => {
    expect(T.contiguous(T.narrow(base(), 2, 1, 3)).arraySync()).toEqual(plain.map((m) => m.map((row) => row.slice(1))));
    const t = T.transpose(T.narrow(base(), 1, 1, 2), 1, 2); // [B, C, 2]: element [b][c][r] = base[b][1 + r][c]
    expect(T.contiguous(t).arraySync()).toEqual(plain.map((m) => Array.from({ length: C }, (_, c) => [m[1][c], m[2][c]])));
  });

  it("concat along a short last axis writes into rows 4 apart (a causal-conv window)", () => {
    const past = T.narrow(base(), 2, 1, 3); // [B, R, 3]
    const x = T.narrow(base(), 2, 0, 1); // [B, R, 1]
    expect(T.concat([past, x], 2).arraySync()).toEqual(plain.map((m) => m.map((row) => [row[1], row[2], row[3], row[0]])));
  });
});
