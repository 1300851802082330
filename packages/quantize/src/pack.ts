/**
 * Bit packing of codes. Codes are unsigned b-bit integers written as one big-endian bit
 * stream: element 0 takes the most significant bits of byte 0. For 4 bits this is
 * bitsandbytes' order (`(q[0::2] << 4) | q[1::2]`: element 0 in the high nibble); 2-bit codes put
 * four per byte from the top; 3-bit codes pack eight into three bytes. The stream is padded with
 * zero bits to a whole byte.
 */
import { fail } from "./errors";

export function packedBytes(n: number, bits: number): number {
  return Math.ceil((n * bits) / 8);
}

export function pack(codes: ArrayLike<number>, bits: number): Uint8Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) fail("pack", `bits must be 1..8, got ${bits}`);
  const max = (1 << bits) - 1;
  const out = new Uint8Array(packedBytes(codes.length, bits));
  if (bits === 8) {
    for (let i = 0; i < codes.length; i++) out[i] = codes[i] & 0xff;
    return out;
  }
  let bit = 0;
  for (let i = 0; i < codes.length; i++, bit += bits) {
    const c = codes[i];
    if (c < 0 || c > max || !Number.isInteger(c)) fail("pack", `code ${c} at ${i} does not fit in ${bits} unsigned bits`);
    for (let b = bits - 1; b >= 0; b--) {
      const pos = bit + (bits - 1 - b);
      if ((c >> b) & 1) out[pos >> 3] |= 0x80 >> (pos & 7);
    }
  }
  return out;
}

export function unpack(bytes: Uint8Array, n: number, bits: number): Int32Array {
  if (bytes.length < packedBytes(n, bits)) fail("unpack", `${bytes.length} bytes cannot hold ${n} codes of ${bits} bits (need ${packedBytes(n, bits)})`);
  const out = new Int32Array(n);
  if (bits === 8) {
    for (let i = 0; i < n; i++) out[i] = bytes[i];
    return out;
  }
  if (bits === 4) {
    for (let i = 0; i < n; i++) out[i] = i & 1 ? bytes[i >> 1] & 15 : bytes[i >> 1] >> 4;
    return out;
  }
  let bit = 0;
  for (let i = 0; i < n; i++, bit += bits) {
    let c = 0;
    for (let b = 0; b < bits; b++) {
      const pos = bit + b;
      c = (c << 1) | ((bytes[pos >> 3] >> (7 - (pos & 7))) & 1);
    }
    out[i] = c;
  }
  return out;
}
