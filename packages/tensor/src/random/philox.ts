/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
 * counter-based generator. Block i of a stream is philox(counter = i, key = seed), so any
 * backend (a WGSL shader included) can reproduce the same numbers from (seed, offset).
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High and low 32 bits of a 32x32-bit product, without floating-point loss. */
function mulhilo(a: number, b: number, out: Uint32Array, hiIdx: number, loIdx: number): void {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  out[hiIdx] = hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16);
  out[loIdx] = ((mid & 0xffff) << 16) | (ll & 0xffff);
}

const prod = new Uint32Array(4);

/** Fills out[0..3] with the 4 words of block (c0, c1, c2, c3) under key (k0, k1). */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0,
    x1 = c1 >>> 0,
    x2 = c2 >>> 0,
    x3 = c3 >>> 0;
  let key0 = k0 >>> 0,
    key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    mulhilo(M0, x0, prod, 0, 1); // hi0, lo0
    mulhilo(M1, x2, prod, 2, 3); // hi1, lo1
    const n0 = (prod[2] ^ x1 ^ key0) >>> 0;
    const n1 = prod[3];
    const n2 = (prod[0] ^ x3 ^ key1) >>> 0;
    const n3 = prod[1];
    x0 = n0;
    x1 = n1;
    x2 = n2;
    x3 = n3;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** `count` 32-bit words from the stream (seed, starting block `offset`). */
export function philoxWords(seed: number, offset: number, count: number): Uint32Array {
  const out = new Uint32Array(Math.ceil(count / 4) * 4);
  const block = new Uint32Array(4);
  const k0 = seed >>> 0;
  const k1 = Math.floor(seed / 2 ** 32) >>> 0;
  for (let i = 0; i < out.length / 4; i++) {
    const c = offset + i;
    philox4x32(c >>> 0, Math.floor(c / 2 ** 32) >>> 0, 0, 0, k0, k1, block);
    out.set(block, i * 4);
  }
  return out.subarray(0, count);
}
