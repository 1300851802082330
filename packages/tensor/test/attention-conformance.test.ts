/**
 * Ground truth from PyTorch: softmax attention composed from tensor ops (matmul, softmax,
 * masking) matches F.scaled_dot_product_attention in fixtures//ops/ops.safetensors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../src/index";
import { loadSafetensors } from "../src/io/node";
import { assertClose } from "../src/testing";
import { fixturePath } from "./helpers";

let f: Record<string, T.Tensor>;
beforeAll(() => {
  f = loadSafetensors(fixturePath("ops", "ops.safetensors")).tensors;
});

/** softmax(q k^T / sqrt(d) + mask) v on [B, H, T, Dh]. */
function attention(q: T.Tensor, k: T.Tensor, v: T.Tensor, causal: boolean): T.Tensor {
  return T.tidy(() => {
    const d = q.shape[3];
    let s = T.mul(T.matmul(q, T.transpose(k)), 1 / Math.sqrt(d)); // [B, H, T, T]
    if (causal) {
      const n = q.shape[2];
      const allowed = T.tril(T.ones([n, n], { dtype: "bool" })); // [T, T]
      s = T.where(allowed, s, -Infinity);
    }
    return T.matmul(T.softmax(s, -1), v); // [B, H, T, Dh]
  });
}

describe("attention from tensor ops vs torch sdpa", () => {
  it("sdpa within 1e-5 max abs error", async () => {
    const r = await assertClose(attention(f.q, f.k, f.v, false), f.sdpa, { atol: 1e-5, rtol: 0 });
    expect(r.maxAbs).toBeLessThan(1e-5);
  });

  it("sdpa_causal within 1e-5 max abs error", async () => {
    const r = await assertClose(attention(f.q, f.k, f.v, true), f.sdpa_causal, { atol: 1e-5, rtol: 0 });
    expect(r.maxAbs).toBeLessThan(1e-5);
  });

  it("grouped-query attention by repeating kv heads (sdpa_gqa_causal)", async () => {
    const rep = (t: T.Tensor) => T.reshape(T.expand(T.unsqueeze(t, 2), [2, 2, 2, 33, 16]), [2, 4, 33, 16]); // repeat_interleave(2, 1)
    await assertClose(attention(f.q, rep(f.k_gqa), rep(f.v_gqa), true), f.sdpa_gqa_causal, { atol: 1e-5, rtol: 0 });
  });
});
