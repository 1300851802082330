/**
 * Which scale each element uses, for a shape and a granularity: the number of groups, the
 * shape of the scale tensor and, per element (row-major), its group index.
 */
import { fail } from "../errors";
import type { Granularity } from "./types";

export interface GroupLayout {
  count: number;
  scaleShape: number[];
  /** Group index of every element, row-major. */
  index: Int32Array;
}

export function groupLayout(op: string, shape: readonly number[], g: Granularity): GroupLayout {
  const n = shape.reduce((a, b) => a * b, 1);
  const index = new Int32Array(n);
  if (g.kind === "tensor") return { count: 1, scaleShape: [], index };
  if (g.kind === "block") {
    if (!Number.isInteger(g.size) || g.size < 1) fail(op, `block size must be a positive integer, got ${g.size}`);
    for (let i = 0; i < n; i++) index[i] = Math.floor(i / g.size);
    const count = Math.ceil(n / g.size);
    return { count, scaleShape: [count], index };
  }
  const rank = shape.length;
  const axisIn = g.kind === "channel" ? g.axis : (g.axis ?? -1);
  const axis = axisIn < 0 ? axisIn + rank : axisIn;
  if (!(axis >= 0 && axis < rank)) fail(op, `axis ${axisIn} is out of range for shape [${shape}]`);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const len = shape[axis];
  if (g.kind === "channel") {
    for (let i = 0; i < n; i++) index[i] = Math.floor(i / inner) % len;
    return { count: len, scaleShape: [len], index };
  }
  if (!Number.isInteger(g.size) || g.size < 1 || len % g.size !== 0) fail(op, `group size ${g.size} must divide axis ${axis} of shape [${shape}] (length ${len})`);
  const per = len / g.size; // groups along the axis
  for (let i = 0; i < n; i++) {
    const outer = Math.floor(i / (inner * len));
    const along = Math.floor(i / inner) % len;
    const rest = i % inner;
    index[i] = (outer * per + Math.floor(along / g.size)) * inner + rest;
  }
  const scaleShape = [...shape];
  scaleShape[axis] = per;
  return { count: n / g.size, scaleShape, index };
}
