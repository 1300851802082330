/**
 * append (a growable buffer along one axis): equal to concat, in place only where no handle can
 * see the rows written (the newest view, or an older one once every newer handle is gone), a copy
 * for branches, plain concat under autograd; and float32Blocks, the zero-copy read of its views.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/index";

const live = () => ({ numTensors: T.memory().numTensors, numBytes: T.memory().numBytes });
/** [1, 2, t, 3] with values from seed (distinct per call). */
const rows = (t: number, seed: number) => T.normal([1, 2, t, 3], 0, 1, { seed });
const same = (a: T.Tensor, b: T.Tensor) => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));

describe("append", () => {
  it("equals concat over a chain of appends (strided inputs, capacity growth), in place on the newest view", () => {
    const before = live();
    T.tidy(() => {
      const parts = [rows(5, 1), T.permute(T.normal([1, 3, 2, 1], 0, 1, { seed: 2 }), [0, 2, 3, 1]), rows(1, 3)];
      let c = T.append(null, parts[0], 2);
      expect(T.appendInfo(c)).toEqual({ capacity: T.appendCapacity(5), committed: 5 });
      for (const [i, p] of parts.slice(1).entries()) {
        const prev = c;
        c = T.append(c, p, 2);
        expect(c.storage).toBe(prev.storage); // written in place: no new buffer
        expect(T.appendInfo(c)?.committed).toBe(5 + [1, 2][i]);
        same(prev, T.concat(parts.slice(0, i + 1), 2)); // the older view is unchanged
      }
      same(c, T.concat(parts, 2));
      // Past the capacity: a new buffer, twice the length.
      const big = rows(70, 4);
      const grown = T.append(c, big, 2);
      expect(grown.storage).not.toBe(c.storage);
      expect(T.appendInfo(grown)).toEqual({ capacity: T.appendCapacity(77), committed: 77 });
      same(grown, T.concat([...parts, big], 2));
    });
    expect(live()).toEqual(before);
  });

  it("a branch from an older live view copies and leaves the newer view untouched", () => {
    T.tidy(() => {
      const a = T.append(null, rows(4, 1), 2);
      const b = T.append(a, rows(1, 2), 2); // newest: committed 5
      const c = T.append(a, rows(1, 3), 2); // branch from a while b is alive
      expect(c.storage).not.toBe(a.storage);
      same(b, T.concat([rows(4, 1), rows(1, 2)], 2));
      same(c, T.concat([rows(4, 1), rows(1, 3)], 2));
      // The branch's own buffer grows in place from here.
      const d = T.append(c, rows(2, 5), 2);
      expect(d.storage).toBe(c.storage);
      same(d, T.concat([rows(4, 1), rows(1, 3), rows(2, 5)], 2));
    });
  });

  it("rolls back to an older view when every newer handle is disposed (decoding twice from one state)", () => {
    T.tidy(() => {
      const a = T.append(null, rows(4, 1), 2);
      const b = T.append(a, rows(1, 2), 2);
      b.dispose();
      const c = T.append(a, rows(1, 3), 2);
      expect(c.storage).toBe(a.storage); // the rows past a were free again: in place
      expect(T.appendInfo(c)?.committed).toBe(5);
      same(c, T.concat([rows(4, 1), rows(1, 3)], 2));
      same(a, rows(4, 1));
    });
  });

  it("does not roll back while another handle (a derived view) can see the rows", () => {
    T.tidy(() => {
      const a = T.append(null, rows(4, 1), 2);
      const b = T.append(a, rows(1, 2), 2);
      const seen = T.reshape(b, [2, 5, 3]); // a view append did not hand out
      b.dispose();
      const c = T.append(a, rows(1, 3), 2);
      expect(c.storage).not.toBe(a.storage);
      same(seen, T.reshape(T.concat([rows(4, 1), rows(1, 2)], 2), [2, 5, 3]));
      same(c, T.concat([rows(4, 1), rows(1, 3)], 2));
    });
  });

  it("appends in place after a narrowed tail at the committed end (a sliding window's state)", () => {
    T.tidy(() => {
      const a = T.append(null, rows(6, 1), 2);
      const tail = T.narrow(a, 2, 3, 3);
      const b = T.append(tail, rows(1, 2), 2);
      expect(b.storage).toBe(a.storage);
      same(b, T.concat([T.narrow(rows(6, 1), 2, 3, 3), rows(1, 2)], 2));
    });
  });

  it("memory: a long chain with the older views disposed stays within one buffer; nothing is left after", () => {
    const before = live();
    let c = T.tidy(() => T.append(null, rows(2, 1), 2));
    const bytesAfterFirst = T.memory().numBytes;
    for (let i = 0; i < 60; i++) {
      const prev = c;
      const next = T.tidy(() => T.append(prev, rows(1, 10 + i), 2));
      c.dispose();
      c = next;
      expect(T.memory().numTensors).toBe(before.numTensors + 1);
    }
    expect(T.memory().numBytes).toBe(bytesAfterFirst); // 62 rows fit the first buffer (capacity 66)
    c.dispose();
    expect(live()).toEqual(before);
  });

  it("is concat under autograd: gradients flow to both parts", () => {
    const p = T.append(null, rows(3, 1), 2);
    const x = rows(2, 2);
    const w = T.normal([1, 2, 5, 3], 0, 1, { seed: 9 });
    const [gp, gx] = T.grad((a: T.Tensor, b: T.Tensor) => T.sum(T.mul(T.append(a, b, 2), w)))(p, x);
    same(gp, T.narrow(w, 2, 0, 3));
    same(gx, T.narrow(w, 2, 3, 2));
    expect(T.appendInfo(p)?.committed).toBe(3); // nothing written in place
    T.dispose([p, x, w, gp, gx]);
  });

  it("mixed dtypes: concat's promotion, no in-place write", () => {
    T.tidy(() => {
      const a = T.append(null, rows(2, 1), 2);
      const b = T.append(a, T.cast(rows(1, 2), "float16"), 2);
      expect(b.dtype).toBe("float32");
      expect(T.appendInfo(a)?.committed).toBe(2);
    });
  });

  it("errors name append and the shapes", () => {
    T.tidy(() => {
      const a = T.append(null, rows(2, 1), 2);
      expect(() => T.append(a, T.zeros([1, 3, 1, 3]), 2)).toThrow(/append: x \[1, ?3, ?1, ?3\] does not match prefix \[1, ?2, ?2, ?3\] off axis 2/);
      expect(() => T.append(a, rows(1, 2), 4)).toThrow(/append/);
      expect(() => T.append(null, T.scalar(1), 0)).toThrow(/append/);
    });
  });
});

describe("float32Blocks", () => {
  it("reads the first t rows of a [B, H, capacity, D] buffer in place: B*H blocks of t*D, stride capacity*D", () => {
    T.tidy(() => {
      const buf = T.normal([2, 3, 8, 4], 0, 1, { seed: 1 });
      const view = T.narrow(buf, 2, 0, 5);
      const b = T.float32Blocks(view, 2)!;
      expect({ offset: b.offset, stride: b.stride, blocks: b.blocks, blockSize: b.blockSize }).toEqual({ offset: 0, stride: 32, blocks: 6, blockSize: 20 });
      expect(b.data.buffer).toBe(T.float32Values(buf).buffer); // no copy
      const flat = T.float32Values(T.contiguous(view));
      const got = new Float32Array(6 * 20);
      for (let i = 0; i < 6; i++) got.set(b.data.subarray(b.offset + i * b.stride, b.offset + i * b.stride + 20), i * 20);
      expect(Array.from(got)).toEqual(Array.from(flat));
      const c = T.float32Blocks(buf, 2)!;
      expect([c.stride, c.blocks, c.blockSize]).toEqual([32, 6, 32]);
    });
  });

  it("is null where a block is not contiguous or the leading dims do not flatten to one stride; errors on a bad innerRank", () => {
    T.tidy(() => {
      const x = T.normal([2, 3, 8, 4], 0, 1, { seed: 1 });
      expect(T.float32Blocks(T.permute(x, [0, 2, 1, 3]), 2)).toBeNull(); // rows of a head strided
      expect(T.float32Blocks(T.narrow(x, 1, 0, 2), 2)).toBeNull(); // heads 0..1 of 3: B and H strides differ
      expect(T.float32Blocks(T.zeros([2, 2], { dtype: "int32" }), 1)).toBeNull();
      expect(() => T.float32Blocks(x, 5)).toThrow(/float32Blocks: innerRank 5/);
    });
  });
});

describe("float32Rows", () => {
  it("gives a view's storage, offset and leading strides in place when its last dim is contiguous", () => {
    T.tidy(() => {
      // the heads of a fused qkv projection [B, T, 3 H D] viewed as [B, H, T, D] (GPT-2's split)
      const qkv = T.normal([2, 5, 3 * 3 * 4], 0, 1, { seed: 1 });
      const k = T.transpose(T.reshape(T.narrow(qkv, 2, 12, 12), [2, 5, 3, 4]), 1, 2);
      const r = T.float32Rows(k)!;
      expect(r.data.buffer).toBe(T.float32Values(qkv).buffer); // no copy
      expect({ offset: r.offset, strides: r.strides }).toEqual({ offset: 12, strides: [180, 4, 36] });
      const flat = T.float32Values(T.contiguous(k));
      for (let b = 0; b < 2; b++)
        for (let h = 0; h < 3; h++)
          for (let t = 0; t < 5; t++) {
            const at = r.offset + b * r.strides[0] + h * r.strides[1] + t * r.strides[2];
            expect(Array.from(r.data.subarray(at, at + 4))).toEqual(Array.from(flat.subarray(((b * 3 + h) * 5 + t) * 4, ((b * 3 + h) * 5 + t + 1) * 4)));
          }
    });
  });

  it("is null when the last dim is strided or the tensor is not float32; broadcast dims read with stride 0", () => {
    T.tidy(() => {
      const x = T.normal([3, 4], 0, 1, { seed: 1 });
      expect(T.float32Rows(T.transpose(x))).toBeNull();
      expect(T.float32Rows(T.expand(T.reshape(x, [1, 3, 4]), [2, 3, 4]))?.strides).toEqual([0, 4]);
      expect(T.float32Rows(T.zeros([2, 2], { dtype: "int32" }))).toBeNull();
      expect(T.float32Rows(T.scalar(1))).toBeNull();
      expect(T.float32Rows(T.narrow(x, 1, 1, 1))?.strides).toEqual([4]); // a size-1 last dim counts as contiguous
    });
  });
});
