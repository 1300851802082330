/**
 * Rounding as PyTorch's torch.round (half to even), on float32 values: quantizers compute
 * x / scale in float32 first (Math.fround), as torch does, so codes match bit for bit.
 */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** round(fround(a / b)) with half to even: torch.round(a / b) in float32. */
export function roundDiv(a: number, b: number): number {
  return roundHalfEven(Math.fround(a / b));
}
