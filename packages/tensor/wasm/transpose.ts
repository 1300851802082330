// Transposing copy (materializing a transposed view: a [B, L, D] activation read as [B, D, L]).
//   transpose: dst [cols, rows] = src [rows, cols]^T, both row-major and dense
// 4 x 4 tiles go through registers (four loads, eight shuffles, four stores), walked in 16 x 16
// blocks; the ragged right columns and bottom rows are copied one element at a time. A pure copy:
// values are unchanged.

/** Side of the blocks the 4 x 4 tiles are walked in: a block's 16 destination rows of 64 bytes are written whole while they sit in L1. */
const BLOCK: i32 = 16;

/** dst[c * rows + r] = src[r * cols + c] for r < rows, c < cols. */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  const rs = <usize>cols << 2; // bytes from one source row to the next
  const ds = <usize>rows << 2; // bytes from one destination row to the next
  const r4 = rows & ~3;
  const c4 = cols & ~3;
  for (let r0 = 0; r0 < r4; r0 += BLOCK) {
    const r1 = min(r4, r0 + BLOCK);
    for (let c0 = 0; c0 < c4; c0 += BLOCK) {
      const c1 = min(c4, c0 + BLOCK);
      for (let r = r0; r < r1; r += 4) for (let c = c0; c < c1; c += 4) tile(src + <usize>r * rs + (<usize>c << 2), dst + <usize>c * ds + (<usize>r << 2), rs, ds);
    }
    for (let r = r0; r < r1; r++) for (let c = c4; c < cols; c++) store<f32>(dst + <usize>c * ds + (<usize>r << 2), load<f32>(src + <usize>r * rs + (<usize>c << 2)));
  }
  for (let r = r4; r < rows; r++)
    for (let c = 0; c < cols; c++) store<f32>(dst + <usize>c * ds + (<usize>r << 2), load<f32>(src + <usize>r * rs + (<usize>c << 2)));
}

/** One 4 x 4 tile: four source rows at p (rs bytes apart) become four destination rows at q (ds apart). */
// @ts-ignore: decorator
@inline
function tile(p: usize, q: usize, rs: usize, ds: usize): void {
  const a0 = v128.load(p);
  const a1 = v128.load(p + rs);
  const a2 = v128.load(p + 2 * rs);
  const a3 = v128.load(p + 3 * rs);
  const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5); // [a00 a10 a01 a11]
  const t1 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7); // [a02 a12 a03 a13]
  const t2 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5); // [a20 a30 a21 a31]
  const t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7); // [a22 a32 a23 a33]
  v128.store(q, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5)); // [a00 a10 a20 a30]
  v128.store(q + ds, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(q + 2 * ds, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(q + 3 * ds, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}
