/**
 * The cpu backend's registered-kernel hooks ("cpuGemm", "cpuElementwise": @tessera/native
 * registers them on Node), exercised with plain TypeScript kernels that record their calls: which
 * calls reach them, with which layouts, and that results equal the backend's own kernels; under
 * the 'reference' preference they are bypassed, and a kernel that declines leaves the op to the
 * backend.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";

interface Call {
  kind: string;
  args: unknown[];
}

function recordingKernels(calls: Call[], decline = false): { gemm: T.CpuGemmKernel; elementwise: T.CpuElementwiseKernel } {
  const gemm: T.CpuGemmKernel = {
    name: "recording gemm",
    matmul(a, b, c, M, N, K, transB, bias) {
      calls.push({ kind: "matmul", args: [M, N, K, transB, bias !== null] });
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = bias ? bias[j] : 0;
          for (let k = 0; k < K; k++) s += a[i * K + k] * (transB ? b[j * K + k] : b[k * N + j]);
          c[i * N + j] = s;
        }
    },
  };
  const elementwise: T.CpuElementwiseKernel = {
    name: "recording elementwise",
    unary(op, x, out) {
      if (decline || op !== "exp") return false;
      calls.push({ kind: "unary", args: [op, x.length] });
      for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]);
      return true;
    },
    binary(op, a, b, out) {
      if (decline || op !== "add") return false;
      calls.push({ kind: "binary", args: [op, a.length, b.length] });
      for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i % b.length];
      return true;
    },
    copy(src, srcOffset, shape, srcStrides, dst, dstOffset, dstStrides) {
      if (decline) return false;
      calls.push({ kind: "copy", args: [[...shape], [...srcStrides], [...dstStrides]] });
      const n = shape.reduce((p, q) => p * q, 1);
      for (let i = 0; i < n; i++) {
        let [rest, s, d] = [i, srcOffset, dstOffset];
        for (let k = shape.length - 1; k >= 0; k--) {
          const q = rest % shape[k];
          rest = Math.floor(rest / shape[k]);
          s += q * srcStrides[k];
          d += q * dstStrides[k];
        }
        dst[d] = src[s];
      }
      return true;
    },
  };
  return { gemm, elementwise };
}

function register(calls: Call[], decline = false): void {
  const { gemm, elementwise } = recordingKernels(calls, decline);
  T.registerKernel(T.CPU_GEMM, "cpu", gemm);
  T.registerKernel(T.CPU_ELEMENTWISE, "cpu", elementwise);
}

afterEach(() => {
  T.unregisterKernel(T.CPU_GEMM, "cpu");
  T.unregisterKernel(T.CPU_ELEMENTWISE, "cpu");
});

describe("registered cpu kernels", () => {
  it("matmul, linear and affine reach cpuGemm with B in place (row-major or transposed) and the bias", async () => {
    const x = T.normal([2, 24, 40], 0, 1, { seed: 1 });
    const w = T.normal([40, 70], 0, 1, { seed: 2 });
    const lin = T.normal([70, 40], 0, 1, { seed: 3 });
    const bias = T.normal([70], 0, 1, { seed: 4 });
    const q = T.normal([2, 3, 32, 32], 0, 1, { seed: 5 });
    const one = T.normal([1, 40], 0, 1, { seed: 6 });
    const cases = (): T.Tensor[] => [
      T.matmul(x, w),
      T.linear(x, lin, bias),
      T.matmul(q, T.transpose(q, -1, -2)),
      T.linear(one, lin, bias),
      T.affine(T.reshape(x, [48, 40]), w, bias),
    ];
    const calls: Call[] = [];
    register(calls);
    const got = T.tidy(cases);
    expect(calls.filter((c) => c.kind === "matmul").map((c) => c.args)).toEqual([
      [48, 70, 40, false, false], // batch folded into the rows
      [48, 70, 40, true, true], // W^T read in place, bias
      ...Array.from({ length: 6 }, () => [32, 32, 32, true, false]), // one call per batch entry (distinct B)
      [1, 70, 40, true, true], // few rows: the same kernel
      [48, 70, 40, false, true],
    ]);
    const want = T.withKernelPreference("reference", () => T.tidy(cases));
    expect(calls.filter((c) => c.kind === "matmul")).toHaveLength(10); // the reference run made no calls
    for (let i = 0; i < got.length; i++) await assertClose(got[i], want[i], { atol: 1e-5, rtol: 1e-5, label: `case ${i}` });
    T.dispose([got, want, x, w, lin, bias, q, one]);
  });

  it("small and integer products stay with the backend; float16 storage reaches the kernel decoded to float32", () => {
    const calls: Call[] = [];
    register(calls);
    T.tidy(() => {
      T.matmul(T.ones([4, 4]), T.ones([4, 4])); // 64 multiply-adds: below the size that pays for a call
      T.matmul(T.ones([64, 64], { dtype: "int32" }), T.ones([64, 64], { dtype: "int32" }));
      T.matmul(T.ones([64, 64], { dtype: "float16" }), T.ones([64, 64], { dtype: "float16" }));
    });
    expect(calls.filter((c) => c.kind === "matmul")).toEqual([{ kind: "matmul", args: [64, 64, 64, false, false] }]); // float16 storage decodes to float32 operands
  });

  it("unary, binary and copies reach cpuElementwise for float32 (same size, a repeated row, a scalar; gathers and scatters)", async () => {
    const x = T.normal([4, 32, 48], 0, 1, { seed: 7 });
    const row = T.normal([48], 0, 1, { seed: 8 });
    const calls: Call[] = [];
    register(calls);
    const got = T.tidy(() => [T.exp(x), T.add(x, x), T.add(x, row), T.add(x, 2), T.contiguous(T.transpose(x, 1, 2)), T.add(T.transpose(x, 1, 2), 1)]);
    const kinds = calls.map((c) => `${c.kind} ${JSON.stringify(c.args)}`);
    expect(kinds).toContain(`unary ["exp",${4 * 32 * 48}]`);
    expect(kinds).toContain(`binary ["add",${4 * 32 * 48},${4 * 32 * 48}]`);
    expect(kinds).toContain(`binary ["add",${4 * 32 * 48},48]`);
    expect(kinds).toContain(`binary ["add",${4 * 32 * 48},1]`);
    expect(kinds).toContain(`copy [[4,48,32],[1536,1,48],[1536,32,1]]`);
    const want = T.withKernelPreference("reference", () =>
      T.tidy(() => [T.exp(x), T.add(x, x), T.add(x, row), T.add(x, 2), T.contiguous(T.transpose(x, 1, 2)), T.add(T.transpose(x, 1, 2), 1)]),
    );
    for (let i = 0; i < got.length; i++) await assertClose(got[i], want[i], { atol: 1e-6, rtol: 1e-6, label: `case ${i}` });
    // a write into a view (a KV-cache append) scatters through it
    calls.length = 0;
    const cache = T.zeros([2, 64, 48]);
    T.assign(T.slice(cache, [null, [8, 40]]), T.normal([2, 32, 48], 0, 1, { seed: 9 }));
    expect(calls.some((c) => c.kind === "copy" && JSON.stringify(c.args[2]) === JSON.stringify([3072, 48, 1]))).toBe(true);
    T.dispose([got, want, x, row, cache]);
  });

  it("a kernel that declines leaves the op to the backend, with the same results", async () => {
    const x = T.normal([8, 200], 0, 1, { seed: 10 });
    const calls: Call[] = [];
    register(calls, true);
    const got = T.tidy(() => [T.exp(x), T.add(x, x), T.contiguous(T.transpose(x)), T.gelu(x)]);
    expect(calls.filter((c) => c.kind !== "matmul")).toEqual([]);
    T.unregisterKernel(T.CPU_ELEMENTWISE, "cpu");
    const want = T.tidy(() => [T.exp(x), T.add(x, x), T.contiguous(T.transpose(x)), T.gelu(x)]);
    for (let i = 0; i < got.length; i++) await assertClose(got[i], want[i], { atol: 0, rtol: 0, label: `case ${i}` });
    T.dispose([got, want, x]);
  });

  it("kernelStats counts the registered kernels only when they ran", () => {
    const calls: Call[] = [];
    register(calls);
    T.resetKernelStats();
    T.tidy(() => T.matmul(T.ones([32, 64]), T.ones([64, 32])));
    T.tidy(() => T.exp(T.ones([2048])));
    T.tidy(() => T.exp(T.ones([16]))); // below the size that pays for a call: not counted
    const s = T.kernelStats();
    expect(s.kernel["cpuGemm/cpu"]).toBe(1);
    expect(s.kernel["cpuElementwise/cpu"]).toBe(1);
    expect(s.reference["cpuGemm/cpu"]).toBeUndefined();
  });
});
