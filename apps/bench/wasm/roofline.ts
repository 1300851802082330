// Micro-kernels for scripts/cpu-roofline.mjs (AssemblyScript, SIMD128; compiled by that script):
// what one core can do at most with WebAssembly SIMD128, to set the speed targets against.
//   tile_4x8: the cpu backend's GEMM register tile (packages/tensor/wasm/gemm.ts) on data in L1,
//             repeated: its peak GFLOP/s (a mul and an add per 4 lanes; one fused multiply-add
//             when compiled with --enable relaxed-simd).
//   read_1 / read_4: the bytes per second one core reads from memory in one sequential stream and
//             in four interleaved ones (the packed decode GEMV reads four panels at once).

import { tile } from "../../../packages/tensor/wasm/gemm";

/** The cpu backend's own tile (not a copy), `reps` times over kc steps of a 4x8 block in L1. */
export function tile_4x8(ap: usize, bp: usize, dst: usize, kc: i32, reps: i32): void {
  for (let r = 0; r < reps; r++) tile(ap, bp, dst, kc, 8);
}

export function read_1(p: usize, bytes: usize): f32 {
  let a = f32x4.splat(0), b = f32x4.splat(0), c = f32x4.splat(0), d = f32x4.splat(0);
  const end = p + bytes;
  for (; p < end; p += 64) {
    a = f32x4.add(a, v128.load(p)); b = f32x4.add(b, v128.load(p, 16));
    c = f32x4.add(c, v128.load(p, 32)); d = f32x4.add(d, v128.load(p, 48));
  }
  return f32x4.extract_lane(f32x4.add(f32x4.add(a, b), f32x4.add(c, d)), 0);
}

export function read_4(p: usize, bytes: usize): f32 {
  let a = f32x4.splat(0), b = f32x4.splat(0), c = f32x4.splat(0), d = f32x4.splat(0);
  const q = bytes >> 2;
  const end = p + q;
  for (; p < end; p += 32) {
    a = f32x4.add(a, f32x4.add(v128.load(p), v128.load(p, 16)));
    b = f32x4.add(b, f32x4.add(v128.load(p + q), v128.load(p + q, 16)));
    c = f32x4.add(c, f32x4.add(v128.load(p + 2 * q), v128.load(p + 2 * q, 16)));
    d = f32x4.add(d, f32x4.add(v128.load(p + 3 * q), v128.load(p + 3 * q, 16)));
  }
  return f32x4.extract_lane(f32x4.add(f32x4.add(a, b), f32x4.add(c, d)), 0);
}
