// Micro-kernels for scripts/cpu-roofline.mjs (AssemblyScript, SIMD128; compiled by that script):
// what one core can do at most with WebAssembly SIMD128, to set the speed targets against.
//   tile_4x8: the cpu backend's GEMM register tile (packages/tensor/wasm/gemm.ts) on data in L1,
//             repeated: its peak GFLOP/s (a mul and an add per 4 lanes; no fused multiply-add).
//   read_1 / read_4: the bytes per second one core reads from memory in one sequential stream and
//             in four interleaved ones (the packed decode GEMV reads four panels at once).

export function tile_4x8(ap: usize, bp: usize, dst: usize, kc: i32, reps: i32): void {
  for (let r = 0; r < reps; r++) {
    let a_ = ap;
    let b_ = bp;
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    for (let k = 0; k < kc; k++) {
      const b0 = v128.load(b_);
      const b1 = v128.load(b_, 16);
      let a = v128.load32_splat(a_);
      c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
      a = v128.load32_splat(a_, 4);
      c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
      a = v128.load32_splat(a_, 8);
      c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
      a = v128.load32_splat(a_, 12);
      c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
      a_ += 16;
      b_ += 32;
    }
    const s = f32x4.add(f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11)), f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31)));
    v128.store(dst, f32x4.add(v128.load(dst), s));
  }
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
