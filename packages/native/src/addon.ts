/**
 * Finding and loading the addon (build/tessera_native.node, made by scripts/build-native.mjs at
 * install). Loading never throws: a missing or broken build is reported by nativeInfo().reason.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The addon's functions (csrc/addon.c). */
export interface Addon {
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, transB: boolean, bias: Float32Array | null): void;
  unary(op: number, x: Float32Array, out: Float32Array): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** Row-wise over x [rows, D]: 0 softmax, 1 log-softmax, 2 LayerNorm, 3 RMSNorm (csrc/elementwise.h). */
  rows(op: number, x: Float32Array, out: Float32Array, rows: number, D: number, weight: Float32Array | null, bias: Float32Array | null, eps: number): void;
  copy(src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number, layout: Float64Array): void;
  /** layout: [B, H, Hkv, Tq, Tk, D, Dv, offset and batch / head / row strides of q, k, v, out, causal, window, left, right, zeroMasked, scale, cap] (csrc/attention.h). */
  attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    kbias: Float32Array | null,
    slopes: Float32Array | null,
    layout: Float64Array,
  ): void;
  info(): { isa: string; isas: string; threads: number };
  setThreads(n: number): void;
  setIsa(name: string | null): boolean;
  setSpinFlag(flag: Int32Array | null): void;
}

let loaded: { addon: Addon | null; path: string; reason: string | null } | undefined;

/** The package's root: dist/ (built) or src/ (tests) sit one level below it. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..");
}

export function loadAddon(): { addon: Addon | null; path: string; reason: string | null } {
  if (loaded) return loaded;
  const path = process.env.TESSERA_NATIVE_PATH || join(packageRoot(), "build", "tessera_native.node");
  if (!existsSync(path)) {
    loaded = {
      addon: null,
      path,
      reason: `${path} does not exist: the install script found no C compiler, or did not run (build it with \`node scripts/build-native.mjs\` in the package)`,
    };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    loaded = { addon, path, reason: null };
  } catch (e) {
    loaded = { addon: null, path, reason: `${path} did not load: ${(e as Error).message.split("\n")[0]}` };
  }
  return loaded;
}
