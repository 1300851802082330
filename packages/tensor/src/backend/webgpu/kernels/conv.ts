/**
 * conv1d on WebGPU: one invocation per output (b, co, t) over contiguous x [B, Cin, L] and
 * w [Cout, Cin/groups, K] (the backend makes strided inputs contiguous first).
 */
import type { Conv1dParams } from "../../backend";
import type { GpuContext, GpuData } from "../context";
import { shader, store, type Binding } from "../wgsl";
import type { GpuView } from "./elementwise";

export function conv1d(ctx: GpuContext, x: GpuView, w: GpuView, bias: GpuView | null, p: Conv1dParams): GpuData {
  const [B, Cin, L] = x.shape;
  const [Cout, CinG, K] = w.shape;
  const Lout = Math.floor((L + p.padLeft + p.padRight - p.dilation * (K - 1) - 1) / p.stride) + 1;
  const n = B * Cout * Lout;
  const out = ctx.alloc(n);
  const bindings: Binding[] = [
    { name: "out", word: "f32", write: true },
    { name: "xs", word: "f32" },
    { name: "ws", word: "f32" },
  ];
  const bufs = [out.buffer, x.data.buffer, w.data.buffer];
  if (bias) {
    bindings.push({ name: "bs_", word: "f32" });
    bufs.push(bias.data.buffer);
  }
  // [n, Cin, L, Cout, CinG, K, Lout, stride, padLeft, dilation, CoutG, x offset, w offset, bias offset]
  const prm = [n, Cin, L, Cout, CinG, K, Lout, p.stride, p.padLeft, p.dilation, Cout / p.groups, x.offset, w.offset, bias?.offset ?? 0];
  const code = shader({
    bindings,
    body: `  if (i >= prm[0]) { return; }
  let Lout = prm[6];
  let t = i % Lout;
  let co = (i / Lout) % prm[3];
  let b = i / (Lout * prm[3]);
  let g = co / prm[10];
  var acc = ${bias ? "bs_[prm[13] + co]" : "0.0"};
  for (var ci = 0u; ci < prm[4]; ci++) {
    let xb = prm[11] + (b * prm[1] + g * prm[4] + ci) * prm[2];
    let wb = prm[12] + (co * prm[4] + ci) * prm[5];
    for (var k = 0u; k < prm[5]; k++) {
      let pos = i32(t * prm[7] + k * prm[9]) - i32(prm[8]);
      if (pos >= 0 && pos < i32(prm[2])) { acc += ws[wb + k] * xs[xb + u32(pos)]; }
    }
  }
  out[i] = ${store("acc", x.dtype)};`,
  });
  bufs.push(ctx.meta(prm));
  ctx.dispatch(code, bufs, Math.ceil(n / 256));
  return out;
}
