/**
 * Pathfinder (Linsley et al. 2018, "Learning long-range spatial dependencies with horizontal gated
 * recurrent units"; Kim, Linsley et al. 2020), the LRA image task: two end-point markers and
 * several dashed curves; label 1 when both markers sit on the same curve.
 *
 * Taken from the original generator (drewlinsley/pathfinder: snakes2.py, snakes.py,
 * snakes2_wrapper.py), in spirit and in its constants:
 * - a "snake" is a chain of `contourLength` short straight dashes ("paddles") separated by a gap;
 *   each next dash turns from the previous one by an angle drawn with weight
 *   `cos(min(|turn| * continuity, pi / 2))^2` among the positions still free (snakes.py
 *   `get_coords_cmf`), so `continuity` bounds the curvature (1.8, the wrapper's baseline: turns
 *   under 50 degrees per dash);
 * - two target snakes of equal length start `seedDistance` apart (`initialize_two_seeds`) and grow
 *   a dash at a time, in turn (`two_snakes`); when one cannot grow the image is started again;
 * - distractor snakes of `contourLength / 3` dashes, `30 / distractorLength` of them
 *   (snakes2_wrapper.py), each retried up to 4 times and skipped when they do not fit
 *   (`allow_incomplete`);
 * - snakes never touch (the original's dilated occupancy mask);
 * - the label is a fair coin; the first marker goes on the start of a random target snake and the
 *   second on the end of the same snake (label 1) or of the other one (label 0) (`from_wrapper`).
 * Different, on purpose: the original draws anti-aliased paddles of thickness 1.5-2 px (on a 300 x
 * 300 canvas in snakes2_wrapper.py; LRA's 32 x 32 and 128 x 128 sets came out of that code base
 * with their own settings, which are not reproduced here), with circular markers, contrast options
 * and optional single-paddle distractors. Here every pixel is drawn
 * directly on the `size` x `size` grid with two known intensities, so the label can be checked
 * from the pixels alone:
 * - background 0; path pixels PATHFINDER_PATH (160); marker pixels PATHFINDER_MARKER (255), a
 *   (2r+1)-wide rounded block around each end-point (r = `markerRadius`);
 * - within a snake, consecutive drawn pixels are at most 2 apart in Chebyshev distance (dashes are
 *   separated by gaps of at most one pixel); pixels of different snakes (markers included) are at
 *   least 3 apart;
 * - hence the label is exactly: the two markers are in one component of the non-zero pixels when
 *   pixels within Chebyshev distance 2 count as neighbours (PATHFINDER_LINK). The images are not
 *   byte-identical to LRA's and accuracies are not comparable digit for digit with published
 *   Pathfinder numbers; the task (integrate a curve over long range, ignoring distractors) is the same.
 * The default is 32 x 32 (LRA "Pathfinder"); `PATHFINDER_X` is the 128 x 128 long setting (LRA
 * "Path-X", 16384 pixels), passed as options: `pathfinder({ ...PATHFINDER_X, count, seed })`.
 */
import { deriveSeed, seededRandom } from "./random";

export const PATHFINDER_PATH = 160;
export const PATHFINDER_MARKER = 255;
/** Pixels within this Chebyshev distance are neighbours for the label's connectivity. */
export const PATHFINDER_LINK = 2;
const SEPARATION = PATHFINDER_LINK + 1;
const HEADINGS = 32; // candidate turns: multiples of 360 / 32 = 11.25 degrees

export interface PathfinderOptions {
  count: number;
  seed: number;
  /** Image side in pixels; default 32. */
  size?: number;
  /** Dashes per target snake; default 8 (PATHFINDER_X: 14, the original's hardest length). */
  contourLength?: number;
  /** Pixels per dash; default max(2, round(size / 16)). */
  dashLength?: number;
  /** Curvature control (higher = straighter); default 1.8. */
  continuity?: number;
  /** Dashes per distractor snake; default max(1, round(contourLength / 3)). */
  distractorLength?: number;
  /** Distractor snakes attempted; default round(30 / distractorLength). */
  numDistractors?: number;
  /** Distance between the two target snakes' starts; default max(5, round(size / 5)). */
  seedDistance?: number;
  /** Marker radius in pixels; default max(1, round(size / 64)). */
  markerRadius?: number;
}

/** The Path-X setting: 128 x 128 (16384 pixel tokens), long target snakes. */
export const PATHFINDER_X = { size: 128, contourLength: 14, dashLength: 6 } as const;

export interface PathfinderExample {
  /** size * size grayscale pixels, row-major: 0, PATHFINDER_PATH or PATHFINDER_MARKER. */
  pixels: Uint8Array;
  label: 0 | 1;
  /** The two markers' centres, [row, column]. */
  markers: [[number, number], [number, number]];
}

interface Snake {
  id: number;
  y: number;
  x: number;
  heading: number;
  pixels: number[];
}

class Canvas {
  readonly owner: Int16Array;
  readonly marker: Uint8Array;
  constructor(readonly size: number) {
    this.owner = new Int16Array(size * size).fill(-1);
    this.marker = new Uint8Array(size * size);
  }
  inside(y: number, x: number): boolean {
    return y >= 1 && x >= 1 && y < this.size - 1 && x < this.size - 1;
  }
  /** Free for snake `id`: no pixel of another snake within SEPARATION - 1. */
  freeFor(y: number, x: number, id: number): boolean {
    const n = this.size;
    for (let dy = -(SEPARATION - 1); dy <= SEPARATION - 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= n) continue;
      for (let dx = -(SEPARATION - 1); dx <= SEPARATION - 1; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= n) continue;
        const o = this.owner[yy * n + xx];
        if (o >= 0 && o !== id) return false;
      }
    }
    return true;
  }
}

/** The pixels of a dash from (y, x) along `heading`: `skip` unit steps, then `len` drawn steps. */
function dashPixels(c: Canvas, s: Snake, heading: number, skip: number, len: number): { pix: number[]; y: number; x: number } | null {
  const dy = Math.sin(heading);
  const dx = Math.cos(heading);
  const pix: number[] = [];
  let y = s.y;
  let x = s.x;
  for (let k = 1; k <= skip + len; k++) {
    y = s.y + k * dy;
    x = s.x + k * dx;
    if (k <= skip) continue;
    const ry = Math.round(y);
    const rx = Math.round(x);
    if (!c.inside(ry, rx) || !c.freeFor(ry, rx, s.id)) return null;
    const p = ry * c.size + rx;
    if (pix.includes(p) || p === s.pixels[s.pixels.length - 1]) continue; // the same pixel again (diagonal steps)
    if (c.owner[p] === s.id) return null; // no self-crossing
    pix.push(p);
  }
  return { pix, y, x };
}

function commit(c: Canvas, s: Snake, d: { pix: number[]; y: number; x: number }, heading: number): void {
  for (const p of d.pix) {
    c.owner[p] = s.id;
    s.pixels.push(p);
  }
  s.y = d.y;
  s.x = d.x;
  s.heading = heading;
}

/** Starts a snake with its first dash at (y, x); false when it does not fit. */
function seedSnake(c: Canvas, s: Snake, dashLength: number): boolean {
  const ry = Math.round(s.y);
  const rx = Math.round(s.x);
  if (!c.inside(ry, rx) || !c.freeFor(ry, rx, s.id) || c.owner[ry * c.size + rx] >= 0) return false;
  const first = ry * c.size + rx;
  const rest = dashPixels(c, s, s.heading, 0, dashLength - 1);
  if (!rest) return false;
  c.owner[first] = s.id;
  s.pixels.push(first);
  commit(c, s, rest, s.heading);
  return true;
}

/** Adds one dash after a one-pixel gap, turning by a continuity-weighted angle among free ones. */
function extendSnake(c: Canvas, s: Snake, dashLength: number, continuity: number, rng: () => number): boolean {
  const options: { w: number; h: number; d: { pix: number[]; y: number; x: number } }[] = [];
  let total = 0;
  for (let k = -HEADINGS / 2; k < HEADINGS / 2; k++) {
    const turn = (k * 2 * Math.PI) / HEADINGS;
    const w = Math.max(Math.cos(Math.min(Math.abs(turn) * continuity, Math.PI / 2)), 0) ** 2;
    if (w < 1e-9) continue;
    const h = s.heading + turn;
    const d = dashPixels(c, s, h, 1, dashLength);
    if (!d) continue;
    options.push({ w, h, d });
    total += w;
  }
  if (options.length === 0) return false;
  let r = rng() * total;
  let pick = options[options.length - 1];
  for (const o of options) {
    r -= o.w;
    if (r < 0) {
      pick = o;
      break;
    }
  }
  commit(c, s, pick.d, pick.h);
  return true;
}

function drawMarker(c: Canvas, s: Snake, p: number, radius: number): void {
  const n = c.size;
  const cy = Math.floor(p / n);
  const cx = p % n;
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      if (dy * dy + dx * dx > radius * radius + radius) continue;
      const y = cy + dy;
      const x = cx + dx;
      if (y < 0 || x < 0 || y >= n || x >= n) continue;
      const q = y * n + x;
      if (c.owner[q] === s.id) c.marker[q] = 1;
      else if (c.owner[q] < 0 && c.freeFor(y, x, s.id)) {
        c.owner[q] = s.id;
        c.marker[q] = 1;
      }
    }
  }
}

const randomHeading = (rng: () => number) => ((Math.floor(rng() * 360) - 180) * Math.PI) / 180;

function oneImage(rng: () => number, o: Required<Omit<PathfinderOptions, "count" | "seed">>): PathfinderExample {
  const n = o.size;
  const label: 0 | 1 = rng() < 0.5 ? 0 : 1;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const c = new Canvas(n);
    const a: Snake = { id: 0, y: 1 + rng() * (n - 3), x: 1 + rng() * (n - 3), heading: randomHeading(rng), pixels: [] };
    if (!seedSnake(c, a, o.dashLength)) continue;
    let b: Snake | null = null;
    for (let t = 0; t < 10 && !b; t++) {
      const angle = rng() * 2 * Math.PI;
      const y = Math.round(Math.floor(a.pixels[0] / n) + o.seedDistance * Math.sin(angle));
      const x = Math.round((a.pixels[0] % n) + o.seedDistance * Math.cos(angle));
      const cand: Snake = { id: 1, y, x, heading: randomHeading(rng), pixels: [] };
      if (seedSnake(c, cand, o.dashLength)) b = cand;
    }
    if (!b) continue;
    let ok = true;
    for (let seg = 1; seg < o.contourLength && ok; seg++) {
      ok = extendSnake(c, a, o.dashLength, o.continuity, rng) && extendSnake(c, b, o.dashLength, o.continuity, rng);
    }
    if (!ok) continue;
    const targets = [a, b];
    const origin = Math.floor(rng() * 2);
    const start = targets[origin];
    const end = label === 1 ? start : targets[1 - origin];
    const p0 = start.pixels[0];
    const p1 = end.pixels[end.pixels.length - 1];
    drawMarker(c, start, p0, o.markerRadius);
    drawMarker(c, end, p1, o.markerRadius);
    // distractors
    for (let d = 0; d < o.numDistractors; d++) {
      for (let t = 0; t <= 4; t++) {
        const s: Snake = { id: 2 + d, y: Math.floor(rng() * n), x: Math.floor(rng() * n), heading: randomHeading(rng), pixels: [] };
        let grown = seedSnake(c, s, o.dashLength);
        for (let seg = 1; seg < o.distractorLength && grown; seg++) grown = extendSnake(c, s, o.dashLength, o.continuity, rng);
        if (grown) break;
        for (const p of s.pixels) c.owner[p] = -1;
      }
    }
    const pixels = new Uint8Array(n * n);
    for (let p = 0; p < n * n; p++) if (c.owner[p] >= 0) pixels[p] = c.marker[p] ? PATHFINDER_MARKER : PATHFINDER_PATH;
    return {
      pixels,
      label,
      markers: [
        [Math.floor(p0 / n), p0 % n],
        [Math.floor(p1 / n), p1 % n],
      ],
    };
  }
  throw new Error(`pathfinder: could not place two snakes of ${o.contourLength} dashes of ${o.dashLength} px in ${n} x ${n} (1000 attempts)`);
}

/** `count` Pathfinder images (deterministic in `seed`); see the module comment for the rules. */
export function pathfinder(opts: PathfinderOptions): PathfinderExample[] {
  const size = opts.size ?? 32;
  const contourLength = opts.contourLength ?? 8;
  const distractorLength = opts.distractorLength ?? Math.max(1, Math.round(contourLength / 3));
  const o = {
    size,
    contourLength,
    dashLength: opts.dashLength ?? Math.max(2, Math.round(size / 16)),
    continuity: opts.continuity ?? 1.8,
    distractorLength,
    numDistractors: opts.numDistractors ?? Math.round(30 / distractorLength),
    seedDistance: opts.seedDistance ?? Math.max(5, Math.round(size / 5)),
    markerRadius: opts.markerRadius ?? Math.max(1, Math.round(size / 64)),
  };
  if (size < 8) throw new Error(`pathfinder: size must be at least 8, got ${size}`);
  if (o.dashLength < 1 || contourLength < 1) throw new Error("pathfinder: dashLength and contourLength must be at least 1");
  const rng = seededRandom(deriveSeed(opts.seed, 0x9f));
  return Array.from({ length: opts.count }, () => oneImage(rng, o));
}
