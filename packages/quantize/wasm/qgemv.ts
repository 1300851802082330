// AssemblyScript source of @tessera/quantize's weight-only quantized matrix-vector kernels
// (compiled by scripts/build-wasm.mjs into src/kernels/wasm/binary.ts). Weights are
// W [N, K] (nn.Linear layout), codes row-major, one scale (and zero point) per group of G
// elements along K. The weight is never expanded to float32 in memory: each row is decoded
// group by group inside the dot product ("dequantize in the kernel").
//
//   y[n] = sum_g s[n, g] * (sum_{k in g} x[k] v(q[n, k]) - z[n, g] * sum_{k in g} x[k])
//
// q8: signed int8 codes, v(q) = q, no zero points.
// q4: two codes per byte (element 2i in the high nibble); v comes from a 256-entry table of
//     value pairs (v(hi), v(lo)) per byte, so NF4, FP4 and int4 share one kernel;
//     zero points optional (asymmetric int4), their term uses the precomputed group sums xs.

// Each multiply-add is vmath's madd4: one fused f32x4.relaxed_madd in the relaxed-SIMD build.
import { madd4 } from "../node_modules/@tessera/tensor/wasm/vmath"; // through the declared dependency

/** Sum of x over each group: xs[g] = sum_{k in group g} x[k]. */
export function group_sums(x: usize, xs: usize, K: i32, G: i32): void {
  const groups = K / G;
  for (let g = 0; g < groups; g++) {
    let s: f32 = 0;
    const base = x + (<usize>(g * G) << 2);
    for (let k = 0; k < G; k++) s += load<f32>(base + (<usize>k << 2));
    store<f32>(xs + (<usize>g << 2), s);
  }
}

function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** y[n0:n1] for int8 codes (G a multiple of 16). */
export function gemv_q8(x: usize, q: usize, s: usize, y: usize, K: i32, G: i32, n0: i32, n1: i32): void {
  const groups = K / G;
  for (let n = n0; n < n1; n++) {
    const row = q + <usize>n * K;
    let acc: f32 = 0;
    for (let g = 0; g < groups; g++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      const k0 = g * G;
      for (let k = k0; k < k0 + G; k += 16) {
        const b = v128.load(row + <usize>k);
        const lo = i16x8.extend_low_i8x16_s(b);
        const hi = i16x8.extend_high_i8x16_s(b);
        const xo = x + (<usize>k << 2);
        a0 = madd4(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(xo), a0);
        a1 = madd4(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(xo, 16), a1);
        a2 = madd4(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(xo, 32), a2);
        a3 = madd4(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(xo, 48), a3);
      }
      acc += load<f32>(s + ((<usize>n * groups + g) << 2)) * hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
    }
    store<f32>(y + (<usize>n << 2), acc);
  }
}

/** y[n0:n1] for 4-bit codes through the pair table (G a multiple of 8); z = 0 for no zero points. */
export function gemv_q4(x: usize, q: usize, table: usize, s: usize, z: usize, xs: usize, y: usize, K: i32, G: i32, n0: i32, n1: i32): void {
  const groups = K / G;
  const rowBytes = <usize>(K >> 1);
  for (let n = n0; n < n1; n++) {
    const row = q + <usize>n * rowBytes;
    let acc: f32 = 0;
    for (let g = 0; g < groups; g++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      const k0 = g * G;
      for (let k = k0; k < k0 + G; k += 8) {
        const bp = row + <usize>(k >> 1);
        // Four bytes = eight codes; each byte's pair of values is 8 bytes of the table.
        const v0 = v128.load64_zero(table + (<usize>load<u8>(bp) << 3));
        const w0 = v128.load64_lane(table + (<usize>load<u8>(bp, 1) << 3), v0, 1);
        const v1 = v128.load64_zero(table + (<usize>load<u8>(bp, 2) << 3));
        const w1 = v128.load64_lane(table + (<usize>load<u8>(bp, 3) << 3), v1, 1);
        const xo = x + (<usize>k << 2);
        a0 = madd4(w0, v128.load(xo), a0);
        a1 = madd4(w1, v128.load(xo, 16), a1);
      }
      let dot = hsum(f32x4.add(a0, a1));
      const gi = (<usize>n * groups + g) << 2;
      if (z) dot -= load<f32>(z + gi) * load<f32>(xs + (<usize>g << 2));
      acc += load<f32>(s + gi) * dot;
    }
    store<f32>(y + (<usize>n << 2), acc);
  }
}

/**
 * y[n0:n1] for unsigned 4-bit integer codes u with zero points (symmetric int4 uses z = 8):
 * y[n] = sum_g s (sum_k x[k] u[n,k] - z sum_g x). The codes are widened arithmetically, 32 per
 * step, against x split into even and odd positions (xe[i] = x[2i], xo[i] = x[2i+1]) so the high
 * and low nibbles of a byte meet their inputs without shuffles. G must be a multiple of 32.
 */
export function gemv_u4(xe: usize, xo: usize, q: usize, s: usize, z: usize, xs: usize, y: usize, K: i32, G: i32, n0: i32, n1: i32): void {
  const groups = K / G;
  const rowBytes = <usize>(K >> 1);
  const mask = i8x16.splat(15);
  for (let n = n0; n < n1; n++) {
    const row = q + <usize>n * rowBytes;
    let acc: f32 = 0;
    for (let g = 0; g < groups; g++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      const b0 = <usize>((g * G) >> 1);
      for (let b = b0; b < b0 + <usize>(G >> 1); b += 16) {
        const bytes = v128.load(row + b);
        const hi = i8x16.shr_u(bytes, 4);
        const lo = v128.and(bytes, mask);
        const hl = i16x8.extend_low_i8x16_u(hi);
        const hh = i16x8.extend_high_i8x16_u(hi);
        const ll = i16x8.extend_low_i8x16_u(lo);
        const lh = i16x8.extend_high_i8x16_u(lo);
        const e = xe + (b << 2);
        const o = xo + (b << 2);
        a0 = madd4(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hl)), v128.load(e), a0);
        a1 = madd4(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hl)), v128.load(e, 16), a1);
        a2 = madd4(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hh)), v128.load(e, 32), a2);
        a3 = madd4(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hh)), v128.load(e, 48), a3);
        a0 = madd4(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(ll)), v128.load(o), a0);
        a1 = madd4(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(ll)), v128.load(o, 16), a1);
        a2 = madd4(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lh)), v128.load(o, 32), a2);
        a3 = madd4(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lh)), v128.load(o, 48), a3);
      }
      const gi = (<usize>n * groups + g) << 2;
      const dot = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))) - load<f32>(z + gi) * load<f32>(xs + (<usize>g << 2));
      acc += load<f32>(s + gi) * dot;
    }
    store<f32>(y + (<usize>n << 2), acc);
  }
}

/**
 * Dequantization of rows [n0, n1) into float32 out [N, K] (prefill: the weight is expanded once
 * per call for the GEMM). kind 0: int8 codes; 1: 4-bit codes through the pair table; values are
 * (v - z) s per group (z = 0 when absent).
 */
export function dequant_rows(kind: i32, q: usize, table: usize, s: usize, z: usize, out: usize, K: i32, G: i32, n0: i32, n1: i32): void {
  const groups = K / G;
  for (let n = n0; n < n1; n++) {
    for (let g = 0; g < groups; g++) {
      const gi = (<usize>n * groups + g) << 2;
      const sc = load<f32>(s + gi);
      const zp: f32 = z ? load<f32>(z + gi) : 0;
      const k0 = g * G;
      const o = out + ((<usize>n * K + k0) << 2);
      if (kind == 0) {
        const row = q + <usize>n * K + k0;
        for (let k = 0; k < G; k++) store<f32>(o + (<usize>k << 2), (<f32>load<i8>(row + k) - zp) * sc);
      } else {
        const row = q + ((<usize>n * K + k0) >> 1);
        for (let b = 0; b < G >> 1; b++) {
          const t = table + (<usize>load<u8>(row + b) << 3);
          store<f32>(o + (<usize>b << 3), (load<f32>(t) - zp) * sc);
          store<f32>(o + (<usize>b << 3), (load<f32>(t, 4) - zp) * sc, 4);
        }
      }
    }
  }
}

/**
 * Exact int8 x int8 -> int32 products: c[m, n] = sum_k a[m, k] b[n, k] for rows n in [n0, n1)
 * (b in nn.Linear layout [N, K]). Sixteen codes per step: sign-extended to i16, multiplied and
 * pairwise added by i32x4.dot_i16x8_s.
 */
export function gemm_s8(a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const k16 = K & ~15;
  for (let m = 0; m < M; m++) {
    const ar = a + <usize>m * K;
    for (let n = n0; n < n1; n++) {
      const br = b + <usize>n * K;
      let acc = i32x4.splat(0);
      let k = 0;
      for (; k < k16; k += 16) {
        const va = v128.load(ar + k);
        const vb = v128.load(br + k);
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(va), i16x8.extend_low_i8x16_s(vb)));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(va), i16x8.extend_high_i8x16_s(vb)));
      }
      let s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
      for (; k < K; k++) s += <i32>load<i8>(ar + k) * <i32>load<i8>(br + k);
      store<i32>(c + ((<usize>m * N + n) << 2), s);
    }
  }
}
