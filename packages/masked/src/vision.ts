/**
 * Patch masking for vision models: MAE random masking, BEiT blockwise masking and VideoMAE tube
 * masking. Masks are drawn on the host (seeded) and returned as float32 tensors, 1 = masked.
 */
import type { Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { rngFor, type Seed } from "./random";
import type { HostRandom } from "@tessera/tensor";
import { checkInt, checkProb, flatTensor, roundHalfEven } from "./util";

export interface GeneratorOptions {
  seed?: Seed;
  /** Backend of the returned tensors (default: the current backend). */
  backend?: string;
}

export interface RandomMasking {
  /** [B, N] float32, 1 = masked (removed), 0 = kept, as MAE. */
  mask: Tensor;
  /** [B, keep] int32: the kept patch indices, in shuffled order. */
  idsKeep: Tensor;
  /** [B, N] int32: ascending argsort of the noise (kept first). */
  idsShuffle: Tensor;
  /** [B, N] int32: the inverse permutation, idsRestore[idsShuffle[j]] = j. */
  idsRestore: Tensor;
  /** floor(N * (1 - ratio)), the number kept per row. */
  keep: number;
}

/**
 * MAE random masking (He et al. 2022, facebookresearch/mae `random_masking`): per row, uniform
 * noise, an ascending argsort (ties broken by index), the first keep = floor(N * (1 - ratio))
 * indices kept (int(L * (1 - mask_ratio)) in MAE; default ratio there 0.75).
 */
export function randomMask(batch: number, numPatches: number, ratio: number, opts: GeneratorOptions = {}): RandomMasking {
  const op = "randomMask";
  const B = checkInt(op, "batch", batch, 1);
  const N = checkInt(op, "numPatches", numPatches, 1);
  checkProb(op, "ratio", ratio, false);
  const keep = Math.floor(N * (1 - ratio));
  const rng = rngFor(op, opts.seed);
  const mask = new Float32Array(B * N);
  const shuffle = new Int32Array(B * N);
  const restore = new Int32Array(B * N);
  const kept = new Int32Array(B * keep);
  const noise = new Float64Array(N);
  const idx = new Array<number>(N);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      noise[n] = rng.uniform();
      idx[n] = n;
    }
    idx.sort((i, j) => noise[i] - noise[j] || i - j);
    for (let j = 0; j < N; j++) {
      shuffle[b * N + j] = idx[j];
      restore[b * N + idx[j]] = j;
      mask[b * N + idx[j]] = j < keep ? 0 : 1;
      if (j < keep) kept[b * keep + j] = idx[j];
    }
  }
  return {
    mask: flatTensor(mask, [B, N], "float32", opts.backend),
    idsKeep: flatTensor(kept, [B, keep], "int32", opts.backend),
    idsShuffle: flatTensor(shuffle, [B, N], "int32", opts.backend),
    idsRestore: flatTensor(restore, [B, N], "int32", opts.backend),
    keep,
  };
}

export interface BlockwiseMaskOptions extends GeneratorOptions {
  /** Masking budget in patches (BEiT: 75 of 14 x 14). Required; at most height * width. */
  numMasked: number;
  /** Smallest block area drawn. Default 16 (BEiT's --min_mask_patches_per_block). */
  minPatches?: number;
  /** Largest block area drawn. Default numMasked. */
  maxPatches?: number;
  /** Aspect ratio h / w is log-uniform in [minAspect, maxAspect]. Defaults 0.3 and 1 / minAspect. */
  minAspect?: number;
  maxAspect?: number;
  /** Stack this many independent masks: [batch, H, W]. Default: one mask [H, W]. */
  batch?: number;
}

/** One block BEiT placed: its rectangle and the aspect ratio drawn for it. */
export interface MaskBlock {
  top: number;
  left: number;
  height: number;
  width: number;
  /** The aspect ratio drawn (h and w are rounded from sqrt(area * aspect), sqrt(area / aspect)). */
  aspect: number;
  /** The target area drawn. */
  area: number;
  /** Patches this block newly masked. */
  added: number;
}

/**
 * BEiT blockwise masking on the host (Bao et al. 2022, microsoft/unilm beit/masking_generator.py
 * `MaskingGenerator`): while fewer than numMasked patches are masked, try up to 10 times to
 * place a block with area uniform in [minPatches, min(maxPatches, remaining)] and aspect
 * log-uniform in [minAspect, maxAspect] (h = round(sqrt(area * aspect)), w = round(sqrt(area /
 * aspect)), strictly smaller than the grid, position uniform), accepted when it adds between 1
 * and `remaining` new patches; stop when 10 tries add nothing. Never exceeds numMasked.
 */
export function blockwiseMaskArray(height: number, width: number, opts: BlockwiseMaskOptions): { mask: Uint8Array; blocks: MaskBlock[] } {
  const op = "blockwiseMask";
  const c = blockwiseConfig(op, height, width, opts);
  return blockwiseOnce(c, rngFor(op, opts.seed));
}

interface BlockwiseConfig {
  H: number;
  W: number;
  numMasked: number;
  minPatches: number;
  maxPatches: number;
  logAspect: [number, number];
}

function blockwiseConfig(op: string, height: number, width: number, opts: BlockwiseMaskOptions): BlockwiseConfig {
  const H = checkInt(op, "height", height, 1);
  const W = checkInt(op, "width", width, 1);
  if (!opts || typeof opts !== "object") fail(op, "options { numMasked } are required");
  const numMasked = checkInt(op, "numMasked", opts.numMasked, 0);
  if (numMasked > H * W) fail(op, `numMasked ${numMasked} exceeds the ${H} x ${W} = ${H * W} patches`);
  const minPatches = checkInt(op, "minPatches", opts.minPatches ?? 16, 1);
  const maxPatches = checkInt(op, "maxPatches", opts.maxPatches ?? numMasked, 0);
  const minAspect = opts.minAspect ?? 0.3;
  const maxAspect = opts.maxAspect ?? 1 / minAspect;
  if (!(minAspect > 0) || !(maxAspect >= minAspect) || !Number.isFinite(maxAspect)) fail(op, `needs 0 < minAspect <= maxAspect, got ${minAspect} and ${maxAspect}`);
  return { H, W, numMasked, minPatches, maxPatches, logAspect: [Math.log(minAspect), Math.log(maxAspect)] };
}

function blockwiseOnce(c: BlockwiseConfig, rng: HostRandom): { mask: Uint8Array; blocks: MaskBlock[] } {
  const mask = new Uint8Array(c.H * c.W);
  const blocks: MaskBlock[] = [];
  const place = (maxMask: number): number => {
    let delta = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const area = rng.range(c.minPatches, maxMask);
      const aspect = Math.exp(rng.range(c.logAspect[0], c.logAspect[1]));
      const h = roundHalfEven(Math.sqrt(area * aspect));
      const w = roundHalfEven(Math.sqrt(area / aspect));
      if (w < c.W && h < c.H) {
        const top = rng.randint(0, c.H - h);
        const left = rng.randint(0, c.W - w);
        let already = 0;
        for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) already += mask[i * c.W + j];
        if (h * w - already > 0 && h * w - already <= maxMask) {
          for (let i = top; i < top + h; i++) {
            for (let j = left; j < left + w; j++) {
              if (mask[i * c.W + j] === 0) {
                mask[i * c.W + j] = 1;
                delta++;
              }
            }
          }
          blocks.push({ top, left, height: h, width: w, aspect, area, added: h * w - already });
        }
        if (delta > 0) break;
      }
    }
    return delta;
  };
  let count = 0;
  while (count < c.numMasked) {
    const delta = place(Math.min(c.numMasked - count, c.maxPatches));
    if (delta === 0) break;
    count += delta;
  }
  return { mask, blocks };
}

/** BEiT blockwise mask as a float32 tensor [H, W] (or [batch, H, W]), 1 = masked. See blockwiseMaskArray. */
export function blockwiseMask(height: number, width: number, opts: BlockwiseMaskOptions): Tensor {
  const op = "blockwiseMask";
  const c = blockwiseConfig(op, height, width, opts);
  const B = opts.batch === undefined ? 0 : checkInt(op, "batch", opts.batch, 1);
  const rng = rngFor(op, opts.seed);
  const out = new Float32Array(Math.max(B, 1) * c.H * c.W);
  for (let b = 0; b < Math.max(B, 1); b++) out.set(blockwiseOnce(c, rng).mask, b * c.H * c.W);
  return flatTensor(out, B ? [B, c.H, c.W] : [c.H, c.W], "float32", opts.backend);
}

export interface TubeMaskOptions extends GeneratorOptions {
  /** Stack this many independent masks: [batch, F, H, W]. Default: one mask [F, H, W]. */
  batch?: number;
}

/**
 * VideoMAE tube masking (Tong et al. 2022, MCG-NJU/VideoMAE masking_generator.py
 * `TubeMaskingGenerator`): one spatial mask with exactly floor(ratio * H * W) masked patches
 * (int(mask_ratio * num_patches_per_frame); VideoMAE's default ratio 0.9), shuffled uniformly
 * and repeated in every frame (frames = temporal patches, num_frames / tubelet_size).
 */
export function tubeMask(frames: number, height: number, width: number, ratio: number, opts: TubeMaskOptions = {}): Tensor {
  const op = "tubeMask";
  const F = checkInt(op, "frames", frames, 1);
  const H = checkInt(op, "height", height, 1);
  const W = checkInt(op, "width", width, 1);
  checkProb(op, "ratio", ratio, false);
  const B = opts.batch === undefined ? 0 : checkInt(op, "batch", opts.batch, 1);
  const P = H * W;
  const perFrame = Math.floor(ratio * P);
  const rng = rngFor(op, opts.seed);
  const out = new Float32Array(Math.max(B, 1) * F * P);
  const frame = new Uint8Array(P);
  for (let b = 0; b < Math.max(B, 1); b++) {
    frame.fill(0);
    frame.fill(1, P - perFrame);
    rng.shuffle(frame);
    for (let f = 0; f < F; f++) out.set(frame, (b * F + f) * P);
  }
  return flatTensor(out, B ? [B, F, H, W] : [F, H, W], "float32", opts.backend);
}
