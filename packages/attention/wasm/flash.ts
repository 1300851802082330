// Fused flash attention in WebAssembly SIMD (AssemblyScript; compiled by scripts/build-wasm.mjs
// into src/flash-wasm/binary.ts, a SIMD128 and a relaxed-SIMD build). FlashAttention (Dao et al. 2022) forward with the online
// softmax (Milakov & Gimelshein 2018), and FlashAttention-2's backward (Dao 2023), which
// recomputes each block's probabilities from the saved row logsumexp: no [Tq, Tk] buffer exists.
//
// Layouts (src/flash-wasm/runtime.ts copies the caller's arrays in, zero padded):
//   q [B*H][Tqp][Dp]   k [B*Hkv][Tkp][Dp]   v [B*Hkv][Tkp][Dvp]   out [B*H][Tqp][Dvp]   lse [B*H][Tqp]
//   Dp, Dvp: head dims rounded up to 8; Tqp: Tq rounded up to 16; Tkp: Tk rounded up to 8.
//   kp: k as panels of 8 keys, kp[panel][d][0..7] (vp likewise from v, for the backward), so a
//   4x8 tile of logits is 4 query rows (splat) times 8 keys (two f32x4) per step of d.
//   kbias [B][Tkp]: 0, or -inf for padding keys (the caller's keyPadding and keys j >= Tk).
// Positions are bottom-right aligned: query i sits at i + Tk - Tq, key j at j (as bias.ts).
// Logits: s = c tanh((q . k) scale / c) (softcap c, Gemma 2) - slope_h |p_i - j| (ALiBi), -inf
// outside the causal / sliding-window band and on padding keys.
// flash_decode (a few query rows: decode steps) reads q, k, v and writes out unpadded and
// row-major instead: q [B*H][Tq][D]  k [B*Hkv][Tk][D]  v [B*Hkv][Tk][Dv]  out [B*H][Tq][Dv]; lse and
// kbias as above (lse rows i >= Tq are not written).
// Every multiply-add is vmath's madd4: SIMD128 has no fused multiply-add (a mul and an add); the
// relaxed-SIMD build (the same source with --enable relaxed-simd, loaded where the runtime has
// it) makes each one f32x4.relaxed_madd, one fused instruction where the hardware has FMA.
//
// Work is split into independent tasks (a query block of one head, or a key block of one kv head
// in the backward), the costliest first (causal: the last query blocks); threads claim the next
// one with an atomic add on a counter (the shared-memory build; the plain build runs them all on
// one thread). Each task is computed the same way whichever thread takes it: results do not
// depend on the thread count.
import { hmax, hsum, madd4 } from "../node_modules/@tessera/tensor/wasm/vmath"; // through the declared dependency

// Parameter block (i32 slots at `prm`), shared with runtime.ts.
const P_B = 0, P_H = 1, P_HKV = 2, P_TQ = 3, P_TK = 4, P_DP = 5, P_DVP = 6, P_TQP = 7, P_TKP = 8, P_FLAGS = 9;
const P_LEFT = 10, P_RIGHT = 11, P_SCALE = 12, P_CAP = 13, P_Q = 14, P_K = 15, P_V = 16, P_KP = 17, P_OUT = 18, P_LSE = 19;
const P_KBIAS = 20, P_SLOPES = 21, P_SCRATCH = 22, P_SCRATCH_BYTES = 23, P_DY = 24, P_DSUM = 25, P_DQ = 26, P_DK = 27, P_DV = 28, P_VP = 29;
const P_NEXT = 30; // the next unclaimed task (threads claim tasks with an atomic add)
const P_DH = 31, P_DVH = 32; // unpadded head dims D, Dv (flash_decode)
const P_KS = 33, P_VS = 34; // flash_decode: floats from one key / value head to the next (Tk * D when packed; a resident cache's capacity * D)
const F_CAUSAL = 1, F_WINDOW = 2, F_ZERO = 4, F_ALIBI = 8, F_CAP = 16, F_PAD = 32; // F_PAD: some key is padding (kbias not all 0)

/** Query rows per forward task; key columns per block (forward and dQ); key rows per dK/dV task. */
const BQ: i32 = 64;
const BK: i32 = 64;
/** Query rows handled together in the backward (four 4-row panels). */
const QG: i32 = 16;

const NEG_INF = f32x4.splat(-Infinity);

// @ts-ignore: decorator
@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

// @ts-ignore: decorator
@inline
function prm_i(p: usize, slot: i32): i32 {
  return load<i32>(p + (<usize>slot << 2));
}

// @ts-ignore: decorator
@inline
function prm_f(p: usize, slot: i32): f32 {
  return load<f32>(p + (<usize>slot << 2));
}

/**
 * exp(x) for x <= 0 (s - max and s - lse in the softmax; -inf gives 0): vmath's exp4 (Cephes expf,
 * ~1 ulp) without its overflow branch, and 2^n in one step (n >= -126 once x >= -87.3).
 */
// @ts-ignore: decorator
@inline
function expNeg4(x: v128): v128 {
  const lo = f32x4.splat(-87.33654);
  const under = f32x4.lt(x, lo);
  const xc = f32x4.pmax(x, lo); // NaN passes through
  const t = madd4(xc, f32x4.splat(1.44269504088896341), f32x4.splat(12582912.0));
  const n = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd4(p, r, f32x4.splat(1.3981999507e-3));
  p = madd4(p, r, f32x4.splat(8.3334519073e-3));
  p = madd4(p, r, f32x4.splat(4.1665795894e-2));
  p = madd4(p, r, f32x4.splat(1.6666665459e-1));
  p = madd4(p, r, f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.sub(t, i32x4.splat(0x4b400000)), i32x4.splat(127)), 23); // 2^n
  return v128.bitselect(f32x4.splat(0), f32x4.mul(p, scale), under);
}

/** The i-th task thread t of n takes: the next unclaimed one (threads), or simply i (one thread). */
/** The maximum of s[0, n) (n a multiple of 4). */
// @ts-ignore: decorator
@inline
function row_max(s: usize, n: i32): f32 {
  let mv = NEG_INF;
  for (let j = 0; j < n; j += 4) mv = f32x4.pmax(mv, v128.load(at(s, j)));
  return hmax(mv);
}

/** s[j] = exp(s[j] - m) for j in [0, n) (n a multiple of 4), in place; returns their sum. */
// @ts-ignore: decorator
@inline
function exp_row(s: usize, n: i32, m: f32): f32 {
  const ms = f32x4.splat(m);
  let sum = f32x4.splat(0);
  for (let j = 0; j < n; j += 4) {
    const p = expNeg4(f32x4.sub(v128.load(at(s, j)), ms));
    v128.store(at(s, j), p);
    sum = f32x4.add(sum, p);
  }
  return hsum(sum);
}

// @ts-ignore: decorator
@inline
function claim(prm: usize, t: i32, n: i32, i: i32): i32 {
  if (ASC_FEATURE_THREADS) return atomic.add<i32>(prm + (<usize>P_NEXT << 2), 1);
  return t + i * n;
}

/** tanh for f32x4: sign(u) (1 - e) / (1 + e), e = exp(-2|u|). */
// @ts-ignore: decorator
@inline
function tanh4(u: v128): v128 {
  const one = f32x4.splat(1.0);
  const e = expNeg4(f32x4.mul(f32x4.splat(-2.0), f32x4.abs(u)));
  const t = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  return v128.or(v128.and(t, i32x4.splat(0x7fffffff)), v128.and(u, i32x4.splat(0x80000000)));
}

/** Panels of 8 rows: src [rows][cols] row-major (rows a multiple of 8) -> dst[rows/8][cols][8]. */
export function pack_panels(src: usize, rows: i32, cols: i32, dst: usize): void {
  let o = dst;
  for (let r0 = 0; r0 < rows; r0 += 8) {
    const base = at(src, r0 * cols);
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < 8; r++) store<f32>(o + (<usize>r << 2), load<f32>(at(base, r * cols + c)));
      o += 32;
    }
  }
}

/** Four rows of x [*][cols] from row r0, times `mult`, as a panel dst[cols][4]. */
function pack4(x: usize, r0: i32, cols: i32, mult: f32, dst: usize): void {
  const r = at(x, r0 * cols);
  for (let c = 0; c < cols; c++) {
    const o = dst + (<usize>c << 4);
    store<f32>(o, load<f32>(at(r, c)) * mult);
    store<f32>(o, load<f32>(at(r, cols + c)) * mult, 4);
    store<f32>(o, load<f32>(at(r, 2 * cols + c)) * mult, 8);
    store<f32>(o, load<f32>(at(r, 3 * cols + c)) * mult, 12);
  }
}

/** dst[0:4][0:8] (row stride ld floats) = A panel [kc][4] times B panel [kc][8] (a 4x8 register tile). */
function tile(ap: usize, bp: usize, kc: i32, dst: usize, ld: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd4(a, b0, c00); c01 = madd4(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd4(a, b0, c10); c11 = madd4(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd4(a, b0, c20); c21 = madd4(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd4(a, b0, c30); c31 = madd4(a, b1, c31);
    ap += 16;
    bp += 32;
  }
  const l = <usize>ld << 2;
  let r = dst;
  v128.store(r, c00); v128.store(r, c01, 16); r += l;
  v128.store(r, c10); v128.store(r, c11, 16); r += l;
  v128.store(r, c20); v128.store(r, c21, 16); r += l;
  v128.store(r, c30); v128.store(r, c31, 16);
}

/** s[0:4][0:n] (row stride ld) = panel ap [kc][4] times the key panels from key j0 (n a multiple of 8). */
function logits4(ap: usize, panels: usize, j0: i32, n: i32, kc: i32, s: usize, ld: i32): void {
  for (let j = 0; j < n; j += 8) tile(ap, panels + (<usize>((j0 + j) >> 3) * kc << 5), kc, at(s, j), ld);
}

/**
 * c[0:4][0:W] (row stride W) += a[0:4][0:n] (row stride lda) times b[0:n][0:W] (row stride W):
 * the P V and dS K products. W is a multiple of 8.
 */
function acc_nn(a: usize, lda: i32, n: i32, b: usize, W: i32, c: usize): void {
  const la = <usize>lda << 2;
  const lw = <usize>W << 2;
  for (let col = 0; col < W; col += 8) {
    const c0 = at(c, col);
    let c00 = v128.load(c0), c01 = v128.load(c0, 16);
    let c10 = v128.load(c0 + lw), c11 = v128.load(c0 + lw, 16);
    let c20 = v128.load(c0 + 2 * lw), c21 = v128.load(c0 + 2 * lw, 16);
    let c30 = v128.load(c0 + 3 * lw), c31 = v128.load(c0 + 3 * lw, 16);
    let bp = at(b, col);
    let ap = a;
    for (let j = 0; j < n; j++) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let x = v128.load32_splat(ap);
      c00 = madd4(x, b0, c00); c01 = madd4(x, b1, c01);
      x = v128.load32_splat(ap + la);
      c10 = madd4(x, b0, c10); c11 = madd4(x, b1, c11);
      x = v128.load32_splat(ap + 2 * la);
      c20 = madd4(x, b0, c20); c21 = madd4(x, b1, c21);
      x = v128.load32_splat(ap + 3 * la);
      c30 = madd4(x, b0, c30); c31 = madd4(x, b1, c31);
      bp += lw;
      ap += 4;
    }
    v128.store(c0, c00); v128.store(c0, c01, 16);
    v128.store(c0 + lw, c10); v128.store(c0 + lw, c11, 16);
    v128.store(c0 + 2 * lw, c20); v128.store(c0 + 2 * lw, c21, 16);
    v128.store(c0 + 3 * lw, c30); v128.store(c0 + 3 * lw, c31, 16);
  }
}

/**
 * c[0:n][0:W] (row stride W) += a[0:m][0:n]^T (row stride lda) times b[0:m][0:W] (row stride W):
 * the P^T dY and dS^T Q products of the backward (n a multiple of 4, W of 8).
 */
function acc_tn(a: usize, lda: i32, m: i32, n: i32, b: usize, W: i32, c: usize): void {
  const la = <usize>lda << 2;
  const lw = <usize>W << 2;
  for (let j = 0; j < n; j += 4) {
    for (let col = 0; col < W; col += 8) {
      const c0 = at(c, j * W + col);
      let c00 = v128.load(c0), c01 = v128.load(c0, 16);
      let c10 = v128.load(c0 + lw), c11 = v128.load(c0 + lw, 16);
      let c20 = v128.load(c0 + 2 * lw), c21 = v128.load(c0 + 2 * lw, 16);
      let c30 = v128.load(c0 + 3 * lw), c31 = v128.load(c0 + 3 * lw, 16);
      let bp = at(b, col);
      let ap = at(a, j);
      for (let r = 0; r < m; r++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let x = v128.load32_splat(ap);
        c00 = madd4(x, b0, c00); c01 = madd4(x, b1, c01);
        x = v128.load32_splat(ap, 4);
        c10 = madd4(x, b0, c10); c11 = madd4(x, b1, c11);
        x = v128.load32_splat(ap, 8);
        c20 = madd4(x, b0, c20); c21 = madd4(x, b1, c21);
        x = v128.load32_splat(ap, 12);
        c30 = madd4(x, b0, c30); c31 = madd4(x, b1, c31);
        bp += lw;
        ap += la;
      }
      v128.store(c0, c00); v128.store(c0, c01, 16);
      v128.store(c0 + lw, c10); v128.store(c0 + lw, c11, 16);
      v128.store(c0 + 2 * lw, c20); v128.store(c0 + 2 * lw, c21, 16);
      v128.store(c0 + 3 * lw, c30); v128.store(c0 + 3 * lw, c31, 16);
    }
  }
}

/**
 * Turns raw logits s[0:rows][0:n] (rows of queries i0.., keys j0..; row stride ld) into the
 * biased, masked logits in place; with softcap, t[...] keeps tanh(raw / c) for the backward
 * (t = 0: not kept).
 */
function bias_block(prm: usize, b: i32, h: i32, i0: i32, rows: i32, j0: i32, n: i32, s: usize, ld: i32, t: usize): void {
  let flags = prm_i(prm, P_FLAGS);
  const Tkp = prm_i(prm, P_TKP);
  const shift = prm_i(prm, P_TK) - prm_i(prm, P_TQ);
  // Masks that change nothing in this block are skipped (most blocks: inside the causal band).
  const left = prm_i(prm, P_LEFT), right = prm_i(prm, P_RIGHT);
  const pos0 = i0 + shift, pos1 = i0 + rows - 1 + shift; // first and last query positions
  if (j0 + n - 1 <= pos0) flags &= ~F_CAUSAL;
  if (j0 >= pos1 - left && j0 + n - 1 <= pos0 + right) flags &= ~F_WINDOW;
  if (!(flags & (F_CAUSAL | F_WINDOW | F_ALIBI | F_CAP | F_PAD))) return;
  const kb = at(prm_i(prm, P_KBIAS), b * Tkp + j0);
  const cap = prm_f(prm, P_CAP);
  const capv = f32x4.splat(cap);
  const invCap = f32x4.splat(cap != 0 ? <f32>1.0 / cap : 0);
  const negSlope = f32x4.splat(flags & F_ALIBI ? -load<f32>(at(prm_i(prm, P_SLOPES), h)) : 0);
  const lanes = f32x4(0, 1, 2, 3);
  for (let r = 0; r < rows; r++) {
    const pos = i0 + r + shift; // the query's absolute position
    const posv = f32x4.splat(<f32>pos);
    const lo = f32x4.splat(<f32>(pos - left));
    const hi = f32x4.splat(<f32>(pos + right));
    const sr = at(s, r * ld);
    const tr = at(t, r * ld);
    for (let j = 0; j < n; j += 4) {
      let v = v128.load(at(sr, j));
      if (flags & F_CAP) {
        const th = tanh4(f32x4.mul(v, invCap));
        if (t) v128.store(at(tr, j), th);
        v = f32x4.mul(th, capv);
      }
      const jv = f32x4.add(f32x4.splat(<f32>(j0 + j)), lanes); // key positions (exact below 2^24)
      if (flags & F_ALIBI) v = madd4(negSlope, f32x4.abs(f32x4.sub(posv, jv)), v);
      if (flags & F_PAD) v = f32x4.add(v, v128.load(at(kb, j)));
      if (flags & F_CAUSAL) v = v128.bitselect(NEG_INF, v, f32x4.gt(jv, posv));
      if (flags & F_WINDOW) v = v128.bitselect(NEG_INF, v, v128.or(f32x4.lt(jv, lo), f32x4.gt(jv, hi)));
      v128.store(at(sr, j), v);
    }
  }
}

/** Keys [lo, hi) (multiples of 8) that queries [i0, i1) may attend; hi <= lo when none. */
// @ts-ignore: decorator
@inline
function keyRange(prm: usize, i0: i32, i1: i32): i64 {
  const flags = prm_i(prm, P_FLAGS);
  const Tk = prm_i(prm, P_TK);
  const shift = Tk - prm_i(prm, P_TQ);
  let lo = 0, hi = Tk;
  if (flags & F_CAUSAL) hi = min(hi, i1 - 1 + shift + 1);
  if (flags & F_WINDOW) {
    lo = max(lo, i0 + shift - prm_i(prm, P_LEFT));
    hi = min(hi, i1 - 1 + shift + prm_i(prm, P_RIGHT) + 1);
  }
  lo = lo & ~7;
  hi = min((hi + 7) & ~7, prm_i(prm, P_TKP));
  return (<i64>lo << 32) | <i64>(<u32>hi);
}

/** Queries [lo, hi) (multiples of QG) that may attend keys [j0, j1); hi <= lo when none. */
// @ts-ignore: decorator
@inline
function queryRange(prm: usize, j0: i32, j1: i32): i64 {
  const flags = prm_i(prm, P_FLAGS);
  const Tq = prm_i(prm, P_TQ);
  const shift = prm_i(prm, P_TK) - Tq;
  let lo = 0, hi = Tq;
  if (flags & F_CAUSAL) lo = max(lo, j0 - shift);
  if (flags & F_WINDOW) {
    lo = max(lo, j0 - prm_i(prm, P_RIGHT) - shift);
    hi = min(hi, j1 - 1 + prm_i(prm, P_LEFT) - shift + 1);
  }
  lo = lo < 0 ? 0 : (lo / QG) * QG;
  hi = min(((hi + QG - 1) / QG) * QG, prm_i(prm, P_TQP));
  return (<i64>lo << 32) | <i64>(<u32>hi);
}

/**
 * Forward tasks (a task: BQ query rows of one head) on thread t of n. Per row a running max
 * m, sum l and unnormalized output acc are rescaled as key blocks arrive (tiled.ts):
 *   m' = max(m, rowmax(s));  p = exp(s - m');  l = l exp(m - m') + rowsum(p);  acc = acc exp(m - m') + p v
 *   out = acc / l;  lse = m + log l  (-inf, and out NaN or 0, for a row with no key)
 */
export function flash_fwd(prm: usize, t: i32, n: i32): void {
  const B = prm_i(prm, P_B), H = prm_i(prm, P_H), Hkv = prm_i(prm, P_HKV);
  const Tq = prm_i(prm, P_TQ), Dp = prm_i(prm, P_DP), Dvp = prm_i(prm, P_DVP), Tqp = prm_i(prm, P_TQP), Tkp = prm_i(prm, P_TKP);
  const flags = prm_i(prm, P_FLAGS);
  const scale = prm_f(prm, P_SCALE);
  const q = <usize>prm_i(prm, P_Q), kp = <usize>prm_i(prm, P_KP), v = <usize>prm_i(prm, P_V);
  const out = <usize>prm_i(prm, P_OUT), lse = <usize>prm_i(prm, P_LSE);
  // Scratch: qp [Dp][4] | s [4][BK] | acc [BQ][Dvp] | m [BQ] | l [BQ]
  const qp = <usize>prm_i(prm, P_SCRATCH) + <usize>t * <usize>prm_i(prm, P_SCRATCH_BYTES);
  const s = at(qp, 4 * Dp);
  const acc = at(s, 4 * BK);
  const mrow = at(acc, BQ * Dvp);
  const lrow = at(mrow, BQ);
  const G = H / Hkv;
  const nqb = (Tqp + BQ - 1) / BQ;
  const BH = B * H;
  for (let i = 0; ; i++) {
    const task = claim(prm, t, n, i);
    if (task >= BH * nqb) break;
    const bh = task % BH;
    const q0 = (nqb - 1 - task / BH) * BQ; // the last query blocks (most keys under causal) first
    const q1 = min(q0 + BQ, Tqp);
    if (q0 >= Tq) continue;
    const b = bh / H, h = bh % H;
    const kvh = b * Hkv + h / G;
    const kpanels = at(kp, kvh * Tkp * Dp);
    const vh = at(v, kvh * Tkp * Dvp);
    const qh = at(q, bh * Tqp * Dp);
    memory.fill(acc, 0, <usize>(BQ * Dvp) << 2);
    for (let r = 0; r < BQ; r++) {
      store<f32>(at(mrow, r), -Infinity);
      store<f32>(at(lrow, r), 0);
    }
    const range = keyRange(prm, q0, min(q1, Tq));
    const jlo = <i32>(range >> 32), jhi = <i32>range;
    for (let j0 = jlo; j0 < jhi; j0 += BK) {
      const j1 = min(j0 + BK, jhi);
      for (let r0 = q0; r0 < q1 && r0 < Tq; r0 += 4) {
        const pr = keyRange(prm, r0, min(r0 + 4, Tq));
        const a = max(j0, <i32>(pr >> 32)), e = min(j1, <i32>pr);
        if (e <= a) continue;
        const nk = e - a;
        pack4(qh, r0, Dp, scale, qp);
        logits4(qp, kpanels, a, nk, Dp, s, BK);
        bias_block(prm, b, h, r0, 4, a, nk, s, BK, 0);
        // Online softmax for the four rows.
        for (let r = 0; r < 4; r++) {
          const sr = at(s, r * BK);
          const mOld = load<f32>(at(mrow, r0 - q0 + r));
          const mNew = max(mOld, row_max(sr, nk));
          if (mNew == -Infinity) {
            memory.fill(sr, 0, <usize>nk << 2); // nothing seen yet: p = 0
            continue;
          }
          const rowSum = exp_row(sr, nk, mNew);
          const c = f32x4.extract_lane(expNeg4(f32x4.splat(mOld - mNew)), 0); // mOld = -inf: 0
          const lp = at(lrow, r0 - q0 + r);
          store<f32>(lp, load<f32>(lp) * c + rowSum);
          store<f32>(at(mrow, r0 - q0 + r), mNew);
          if (c != 1) {
            const cv = f32x4.splat(c);
            const ar = at(acc, (r0 - q0 + r) * Dvp);
            for (let d = 0; d < Dvp; d += 4) v128.store(at(ar, d), f32x4.mul(v128.load(at(ar, d)), cv));
          }
        }
        acc_nn(s, BK, nk, at(vh, a * Dvp), Dvp, at(acc, (r0 - q0) * Dvp));
      }
    }
    for (let i = q0; i < min(q1, Tq); i++) {
      const l = load<f32>(at(lrow, i - q0));
      const o = at(out, (bh * Tqp + i) * Dvp);
      const ar = at(acc, (i - q0) * Dvp);
      if (l > 0) {
        const inv = f32x4.splat(<f32>1.0 / l);
        for (let d = 0; d < Dvp; d += 4) v128.store(at(o, d), f32x4.mul(v128.load(at(ar, d)), inv));
        store<f32>(at(lse, bh * Tqp + i), load<f32>(at(mrow, i - q0)) + Mathf.log(l));
      } else {
        // A row with no key: NaN as PyTorch's softmax, or 0 with maskedRows 'zero'.
        const fillv = f32x4.splat(flags & F_ZERO ? 0 : NaN);
        for (let d = 0; d < Dvp; d += 4) v128.store(at(o, d), fillv);
        store<f32>(at(lse, bh * Tqp + i), -Infinity);
      }
    }
  }
}

/**
 * The backward's shared step for QG query rows i0.. of head (b, h) against keys [j0, j0 + nk):
 *   p = exp(s - lse)  into pb [QG][BK];   ds = p (dp - dsum) (1 - tanh^2) scale  into gb [QG][BK]
 * with dp = dy v^T. qp and dyp receive the packed rows (4 panels each).
 */
function probs_and_ds(prm: usize, b: i32, h: i32, bh: i32, kvh: i32, i0: i32, j0: i32, nk: i32, qp: usize, dyp: usize, pb: usize, gb: usize, tb: usize): void {
  const Dp = prm_i(prm, P_DP), Dvp = prm_i(prm, P_DVP), Tqp = prm_i(prm, P_TQP), Tkp = prm_i(prm, P_TKP);
  const flags = prm_i(prm, P_FLAGS);
  const scale = prm_f(prm, P_SCALE);
  const qh = at(<usize>prm_i(prm, P_Q), bh * Tqp * Dp);
  const dyh = at(<usize>prm_i(prm, P_DY), bh * Tqp * Dvp);
  const lse = at(<usize>prm_i(prm, P_LSE), bh * Tqp + i0);
  const dsum = at(<usize>prm_i(prm, P_DSUM), bh * Tqp + i0);
  const kpanels = at(<usize>prm_i(prm, P_KP), kvh * Tkp * Dp);
  const vpanels = at(<usize>prm_i(prm, P_VP), kvh * Tkp * Dvp);
  for (let p = 0; p < QG; p += 4) {
    pack4(qh, i0 + p, Dp, scale, at(qp, p * Dp));
    pack4(dyh, i0 + p, Dvp, 1, at(dyp, p * Dvp));
    logits4(at(qp, p * Dp), kpanels, j0, nk, Dp, at(pb, p * BK), BK);
    logits4(at(dyp, p * Dvp), vpanels, j0, nk, Dvp, at(gb, p * BK), BK);
  }
  bias_block(prm, b, h, i0, QG, j0, nk, pb, BK, tb);
  const capped = flags & F_CAP;
  const sc = f32x4.splat(scale);
  const one = f32x4.splat(1);
  for (let r = 0; r < QG; r++) {
    const L = load<f32>(at(lse, r));
    const pr = at(pb, r * BK), gr = at(gb, r * BK), tr = at(tb, r * BK);
    if (L == -Infinity) {
      // No key for this row (or a padding row): p = 0 and ds = 0.
      memory.fill(pr, 0, <usize>nk << 2);
      memory.fill(gr, 0, <usize>nk << 2);
      continue;
    }
    const Lv = f32x4.splat(L);
    const Dv = f32x4.splat(load<f32>(at(dsum, r)));
    for (let j = 0; j < nk; j += 4) {
      const p = expNeg4(f32x4.sub(v128.load(at(pr, j)), Lv));
      v128.store(at(pr, j), p);
      let ds = f32x4.mul(p, f32x4.sub(v128.load(at(gr, j)), Dv));
      if (capped) {
        const th = v128.load(at(tr, j));
        ds = f32x4.mul(ds, f32x4.sub(one, f32x4.mul(th, th)));
      }
      v128.store(at(gr, j), f32x4.mul(ds, sc));
    }
  }
}

/** Backward scratch: qp [QG][Dp] | dyp [QG][Dvp] | p, ds, tanh [QG][BK] each; then the task's accumulators. */
// @ts-ignore: decorator
@inline
function bwdScratch(prm: usize, t: i32): usize {
  return <usize>prm_i(prm, P_SCRATCH) + <usize>t * <usize>prm_i(prm, P_SCRATCH_BYTES);
}

/**
 * dK and dV tasks on thread t of n: a task is BK keys of one kv head; it visits every query head of
 * its group (grouped-query attention: the kv head's gradient sums over them) and every query
 * block that sees its keys:  dv += p^T dy;  dk += ds^T q  (ds already times scale).
 */
export function flash_bwd_kv(prm: usize, t: i32, n: i32): void {
  const B = prm_i(prm, P_B), H = prm_i(prm, P_H), Hkv = prm_i(prm, P_HKV);
  const Dp = prm_i(prm, P_DP), Dvp = prm_i(prm, P_DVP), Tqp = prm_i(prm, P_TQP), Tkp = prm_i(prm, P_TKP);
  const q = <usize>prm_i(prm, P_Q), dy = <usize>prm_i(prm, P_DY);
  const dk = <usize>prm_i(prm, P_DK), dv = <usize>prm_i(prm, P_DV);
  const qp = bwdScratch(prm, t);
  const dyp = at(qp, QG * Dp);
  const pb = at(dyp, QG * Dvp);
  const gb = at(pb, QG * BK);
  const tb = at(gb, QG * BK);
  const G = H / Hkv;
  const nkb = (Tkp + BK - 1) / BK;
  const BHkv = B * Hkv;
  for (let i = 0; ; i++) {
    const task = claim(prm, t, n, i);
    if (task >= BHkv * nkb) break;
    const kvh = task % BHkv;
    const j0 = (task / BHkv) * BK; // the first key blocks (most queries under causal) first
    const nk = min(BK, Tkp - j0);
    const b = kvh / Hkv;
    const dkb = at(dk, (kvh * Tkp + j0) * Dp);
    const dvb = at(dv, (kvh * Tkp + j0) * Dvp);
    memory.fill(dkb, 0, <usize>(nk * Dp) << 2);
    memory.fill(dvb, 0, <usize>(nk * Dvp) << 2);
    const range = queryRange(prm, j0, j0 + nk);
    const ilo = <i32>(range >> 32), ihi = <i32>range;
    for (let g = 0; g < G; g++) {
      const h = (kvh % Hkv) * G + g;
      const bh = b * H + h;
      for (let i0 = ilo; i0 < ihi; i0 += QG) {
        probs_and_ds(prm, b, h, bh, kvh, i0, j0, nk, qp, dyp, pb, gb, tb);
        acc_tn(pb, BK, QG, nk, at(dy, (bh * Tqp + i0) * Dvp), Dvp, dvb);
        acc_tn(gb, BK, QG, nk, at(q, (bh * Tqp + i0) * Dp), Dp, dkb);
      }
    }
  }
}

/** dQ tasks on thread t of n: a task is QG query rows of one head over its keys:  dq += ds k. */
export function flash_bwd_q(prm: usize, t: i32, n: i32): void {
  const B = prm_i(prm, P_B), H = prm_i(prm, P_H), Hkv = prm_i(prm, P_HKV);
  const Tq = prm_i(prm, P_TQ), Dp = prm_i(prm, P_DP), Dvp = prm_i(prm, P_DVP), Tqp = prm_i(prm, P_TQP), Tkp = prm_i(prm, P_TKP);
  const k = <usize>prm_i(prm, P_K), dq = <usize>prm_i(prm, P_DQ);
  const qp = bwdScratch(prm, t);
  const dyp = at(qp, QG * Dp);
  const pb = at(dyp, QG * Dvp);
  const gb = at(pb, QG * BK);
  const tb = at(gb, QG * BK);
  const G = H / Hkv;
  const nqb = Tqp / QG;
  const BH = B * H;
  for (let i = 0; ; i++) {
    const task = claim(prm, t, n, i);
    if (task >= BH * nqb) break;
    const bh = task % BH;
    const i0 = (nqb - 1 - task / BH) * QG;
    const b = bh / H, h = bh % H;
    const kvh = b * Hkv + h / G;
    const dqb = at(dq, (bh * Tqp + i0) * Dp);
    memory.fill(dqb, 0, <usize>(QG * Dp) << 2);
    if (i0 >= Tq) continue;
    const range = keyRange(prm, i0, min(i0 + QG, Tq));
    const jlo = <i32>(range >> 32), jhi = <i32>range;
    for (let j0 = jlo; j0 < jhi; j0 += BK) {
      const nk = min(BK, jhi - j0);
      probs_and_ds(prm, b, h, bh, kvh, i0, j0, nk, qp, dyp, pb, gb, tb);
      const kb = at(k, (kvh * Tkp + j0) * Dp);
      for (let p = 0; p < QG; p += 4) acc_nn(at(gb, p * BK), BK, nk, kb, Dp, at(dqb, p * Dp));
    }
  }
}

/** Sum of the four lanes of each of a0..a3: [hsum(a0), hsum(a1), hsum(a2), hsum(a3)] (a 4x4 transpose-add). */
// @ts-ignore: decorator
@inline
function hsum4x4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7)); // [a0 02, a1 02, a0 13, a1 13]
  const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
}

/**
 * s[0:n] = qs . k_j for keys j = 0..n-1 (rows of kr, stride D; qs [D] already times scale): four
 * keys at a time (one q load feeds four madd4s), the keys beyond a multiple of 4 one by one, the
 * dims beyond a multiple of 4 in scalar. Reads k only inside its n rows.
 */
function decode_logits(qs: usize, kr: usize, n: i32, D: i32, s: usize): void {
  const D4 = D & ~3;
  const rowBytes = <usize>D << 2;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const k0 = kr + <usize>j * rowBytes, k1 = k0 + rowBytes, k2 = k1 + rowBytes, k3 = k2 + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let d = 0; d < D4; d += 4) {
      const o = <usize>d << 2;
      const qv = v128.load(qs + o);
      a0 = madd4(qv, v128.load(k0 + o), a0);
      a1 = madd4(qv, v128.load(k1 + o), a1);
      a2 = madd4(qv, v128.load(k2 + o), a2);
      a3 = madd4(qv, v128.load(k3 + o), a3);
    }
    let dots = hsum4x4(a0, a1, a2, a3);
    if (D4 < D) {
      let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
      for (let d = D4; d < D; d++) {
        const x = load<f32>(at(qs, d));
        t0 += x * load<f32>(at(k0, d));
        t1 += x * load<f32>(at(k1, d));
        t2 += x * load<f32>(at(k2, d));
        t3 += x * load<f32>(at(k3, d));
      }
      dots = f32x4.add(dots, f32x4(t0, t1, t2, t3));
    }
    v128.store(at(s, j), dots);
  }
  for (; j < n; j++) {
    const kj = kr + <usize>j * rowBytes;
    let a = f32x4.splat(0);
    for (let d = 0; d < D4; d += 4) a = madd4(v128.load(at(qs, d)), v128.load(at(kj, d)), a);
    let t = hsum(a);
    for (let d = D4; d < D; d++) t += load<f32>(at(qs, d)) * load<f32>(at(kj, d));
    store<f32>(at(s, j), t);
  }
}

/**
 * acc[0:Dv] = sum_j p[j] v_j over keys j = 0..n-1 (rows of vr, stride Dv): 16 columns at a time
 * in four registers over all keys, then 4, then the scalar rest.
 */
function decode_pv(p: usize, vr: usize, n: i32, Dv: i32, acc: usize): void {
  const rowBytes = <usize>Dv << 2;
  let c = 0;
  for (; c + 16 <= Dv; c += 16) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let vp = at(vr, c);
    for (let j = 0; j < n; j++) {
      const pj = v128.load32_splat(at(p, j));
      c0 = madd4(pj, v128.load(vp), c0);
      c1 = madd4(pj, v128.load(vp, 16), c1);
      c2 = madd4(pj, v128.load(vp, 32), c2);
      c3 = madd4(pj, v128.load(vp, 48), c3);
      vp += rowBytes;
    }
    const o = at(acc, c);
    v128.store(o, c0); v128.store(o, c1, 16); v128.store(o, c2, 32); v128.store(o, c3, 48);
  }
  for (; c + 4 <= Dv; c += 4) {
    let c0 = f32x4.splat(0);
    let vp = at(vr, c);
    for (let j = 0; j < n; j++) {
      c0 = madd4(v128.load32_splat(at(p, j)), v128.load(vp), c0);
      vp += rowBytes;
    }
    v128.store(at(acc, c), c0);
  }
  for (; c < Dv; c++) {
    let t: f32 = 0;
    for (let j = 0; j < n; j++) t += load<f32>(at(p, j)) * load<f32>(at(vr, j * Dv + c));
    store<f32>(at(acc, c), t);
  }
}

/**
 * The forward for a few query rows (decode: Tq = 1, or a short draft), on thread t of n; the
 * same function as flash_fwd (same logits, masks, alignment, lse; flash_bwd_* take its lse) with
 * none of the blocking that pays off only for many rows: no key panels, no query padding. A task
 * is one query head (b, h); it reads its kv head's k and v rows in place (grouped-query attention:
 * kv head (b, h / G), nothing copied per query head). Per query row, a two-pass softmax
 * (Milakov & Gimelshein 2018, "Online normalizer calculation for softmax", the safe form) over
 * the keys the row may attend, [lo, hi) from the causal / window band:
 *   s_j = c tanh((q . k_j) scale / c) - slope_h |pos - j| + kbias_j     (bias_block, as flash_fwd)
 *   m = max_j s_j;  p_j = exp(s_j - m);  l = sum_j p_j;  out = (sum_j p_j v_j) / l;  lse = m + log l
 * (-inf, and out NaN or 0, for a row with no key). The s row fits the scratch (Tk floats), so
 * nothing is rescaled. Scratch per thread: qs [D4] | s [Tk4] | acc [Dv4] (4-rounded).
 */
export function flash_decode(prm: usize, t: i32, n: i32): void {
  const B = prm_i(prm, P_B), H = prm_i(prm, P_H), Hkv = prm_i(prm, P_HKV);
  const Tq = prm_i(prm, P_TQ), Tk = prm_i(prm, P_TK), D = prm_i(prm, P_DH), Dv = prm_i(prm, P_DVH);
  const Tqp = prm_i(prm, P_TQP);
  const flags = prm_i(prm, P_FLAGS);
  const left = prm_i(prm, P_LEFT), right = prm_i(prm, P_RIGHT);
  const scale = prm_f(prm, P_SCALE);
  const q = <usize>prm_i(prm, P_Q), k = <usize>prm_i(prm, P_K), v = <usize>prm_i(prm, P_V);
  const out = <usize>prm_i(prm, P_OUT), lse = <usize>prm_i(prm, P_LSE);
  const qs = <usize>prm_i(prm, P_SCRATCH) + <usize>t * <usize>prm_i(prm, P_SCRATCH_BYTES);
  const s = at(qs, (D + 3) & ~3);
  const acc = at(s, (Tk + 3) & ~3);
  const G = H / Hkv;
  const BH = B * H;
  const shift = Tk - Tq;
  for (let i = 0; ; i++) {
    const bh = claim(prm, t, n, i);
    if (bh >= BH) break;
    const b = bh / H, h = bh % H;
    const kvh = b * Hkv + h / G;
    const kh = at(k, kvh * prm_i(prm, P_KS)); // [Tk][D]
    const vh = at(v, kvh * prm_i(prm, P_VS)); // [Tk][Dv]
    for (let r = 0; r < Tq; r++) {
      const row = bh * Tq + r;
      const pos = r + shift; // the query's absolute position (bottom-right aligned)
      let lo = 0, hi = Tk; // keys [lo, hi) inside the causal / window band
      if (flags & F_CAUSAL) hi = min(hi, pos + 1);
      if (flags & F_WINDOW) {
        lo = max(lo, pos - left);
        hi = min(hi, pos + right + 1);
      }
      const nk = hi - lo;
      let m: f32 = -Infinity;
      let l: f32 = 0;
      if (nk > 0) {
        const qr = at(q, row * D); // [D]
        for (let d = 0; d < D; d++) store<f32>(at(qs, d), load<f32>(at(qr, d)) * scale);
        decode_logits(qs, at(kh, lo * D), nk, D, s);
        // Softcap, ALiBi and key padding as flash_fwd's (bias_block on one row, keys lo..lo + nk4),
        // then -inf on the lanes past nk: they add nothing below.
        const nk4 = (nk + 3) & ~3;
        bias_block(prm, b, h, r, 1, lo, nk4, s, nk4, 0);
        if (nk4 > nk) {
          const tail = at(s, nk4 - 4);
          const jv = f32x4.add(f32x4.splat(<f32>(nk4 - 4)), f32x4(0, 1, 2, 3));
          v128.store(tail, v128.bitselect(NEG_INF, v128.load(tail), f32x4.ge(jv, f32x4.splat(<f32>nk))));
        }
        m = row_max(s, nk4);
        if (m != -Infinity) {
          l = exp_row(s, nk4, m);
          decode_pv(s, at(vh, lo * Dv), nk, Dv, acc);
        }
      }
      const o = at(out, row * Dv); // [Dv]
      if (l > 0) {
        const inv: f32 = <f32>1.0 / l;
        for (let d = 0; d < Dv; d++) store<f32>(at(o, d), load<f32>(at(acc, d)) * inv);
        store<f32>(at(lse, bh * Tqp + r), m + Mathf.log(l));
      } else {
        // A row with no key: NaN as PyTorch's softmax, or 0 with maskedRows 'zero'.
        const fill: f32 = flags & F_ZERO ? 0 : NaN;
        for (let d = 0; d < Dv; d++) store<f32>(at(o, d), fill);
        store<f32>(at(lse, bh * Tqp + r), -Infinity);
      }
    }
  }
}
