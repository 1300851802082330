/**
 * Reverse-mode autodiff over the tape (core/tape.ts):
 *   grad(f)(...xs)          -> df/dx for each tensor argument
 *   valueAndGrad(f)(...xs)  -> { value, grads }
 *   gradients(f, params)    -> { value, grads } for tensors f closes over (module parameters)
 *   customGrad(f)           -> an op with a user-defined backward (STE, scans, fused kernels)
 *   stopGradient(x)         -> x as a constant
 *   isRecording(xs)         -> whether a gradient could flow through an op over xs now
 * f must return a scalar unless a `seed` cotangent is given. Intermediates created by f are
 * freed after the backward pass; the value and the gradients belong to the caller's scope.
 */
import { isFloat } from "../core/dtype";
import { dispose, scoped, tidy, trackTensor } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { shapesEqual } from "../core/shape";
import { needsRecord, popTape, pushTape, record, Tape, withoutRecording } from "../core/tape";
import { isTensor, type Tensor } from "../core/tensor";
import { cast } from "../ops/convert";
import { onesLike, zerosLike } from "../ops/creation";
import { add } from "../ops/elementwise";
import { concat } from "../ops/join";
import { viewOf } from "../ops/util";
import { narrow, reshape } from "../ops/view";

/**
 * Whether an active gradient computation (grad, valueAndGrad, gradients) records ops over any of
 * these tensors now. When false no gradient can flow through an op over them, so an
 * inference-only fused kernel may serve the op (the composed form runs when true).
 */
export function isRecording(tensors: readonly Tensor[]): boolean {
  return needsRecord(tensors);
}

/** A new handle on the same values, recorded as identity (so it has its own autograd node). */
export function identity(x: Tensor): Tensor {
  return record("identity", [x], viewOf(x, x.shape, x.strides, x.offset), (dy) => [dy]);
}

/** x as a constant: no gradient flows through the result. */
export function stopGradient(x: Tensor): Tensor {
  x.assertAlive("stopGradient");
  return viewOf(x, x.shape, x.strides, x.offset);
}

/**
 * Runs the backward pass of `tape` from `root` (cotangent `seed`) and returns the gradient
 * of every tensor in `wrt` (zeros where root does not depend on it).
 */
function backprop(tape: Tape, root: Tensor, seed: Tensor, wrt: readonly Tensor[]): Tensor[] {
  const grads = new Map<number, Tensor>();
  const wanted = new Set(wrt.map((t) => t.key));
  grads.set(root.key, identity(seed));
  for (let n = tape.nodes.length - 1; n >= 0; n--) {
    const node = tape.nodes[n];
    const dy = grads.get(node.output.key);
    if (!dy) continue;
    // Each gradient leaves the tidy as its own handle, so none is shared or freed early.
    const dxs = tidy(() =>
      node.backward(dy, node.inputs, node.output).map((g, i) => {
        if (!g) return null;
        const input = node.inputs[i];
        if (!shapesEqual(g.shape, input.shape)) {
          fail("grad", `the backward of '${node.name}' returned ${fmtShape(g.shape)} for input ${i} of shape ${fmtShape(input.shape)}`);
        }
        return identity(g.dtype === input.dtype ? g : cast(g, input.dtype));
      }),
    );
    dxs.forEach((g, i) => {
      if (!g) return;
      const key = node.inputs[i].key;
      if (!tape.tracked.has(key) || !isFloat(node.inputs[i].dtype)) {
        g.dispose();
        return;
      }
      const prev = grads.get(key);
      if (prev) {
        grads.set(key, add(prev, g));
        prev.dispose();
        g.dispose();
      } else grads.set(key, g);
    });
    if (!wanted.has(node.output.key)) {
      grads.delete(node.output.key);
      dy.dispose();
    }
  }
  const out = wrt.map((t) => grads.get(t.key) ?? zerosLike(t));
  for (const [key, g] of grads) if (!wanted.has(key)) g.dispose();
  // A tensor listed twice gets one gradient: hand back separate handles.
  return out.map((g, i) => (out.indexOf(g) === i ? g : identity(g)));
}

export interface GradOptions {
  /** Cotangent for a non-scalar output (the gradient of sum(seed * f)). */
  seed?: Tensor;
}

function checkWrt(op: string, wrt: readonly unknown[]): Tensor[] {
  return wrt.map((t, i) => {
    if (!isTensor(t)) fail(op, `argument ${i} is not a Tensor`);
    t.assertAlive(op);
    if (!isFloat(t.dtype)) fail(op, `argument ${i} is ${t.dtype} ${fmtShape(t.shape)}: gradients need float tensors`);
    return t;
  });
}

/**
 * Runs f(...leaves) on a tape and backpropagates. With `asArguments`, each wrt tensor is passed
 * to f as a fresh leaf handle, so the same tensor given twice gets two gradients (as JAX);
 * otherwise f closes over the wrt tensors themselves.
 */
function run(op: string, f: (...leaves: Tensor[]) => Tensor, wrt: Tensor[], opts: GradOptions, asArguments: boolean): { value: Tensor; grads: Tensor[] } {
  const tape = new Tape();
  let value: Tensor;
  let grads: Tensor[];
  try {
    ({ value, grads } = tidy(() => {
      // identity records on outer tapes, so a nested grad stays connected to its caller's.
      const leaves = asArguments ? wrt.map((t) => identity(t)) : wrt;
      for (const t of leaves) tape.track(t);
      pushTape(tape);
      let v: Tensor;
      try {
        v = f(...leaves);
      } finally {
        popTape(tape);
      }
      if (!isTensor(v)) fail(op, "f must return a Tensor");
      if (!opts.seed && v.size !== 1) fail(op, `f returned ${fmtShape(v.shape)}; it must return a scalar, or pass { seed } for a non-scalar output`);
      if (opts.seed && !shapesEqual(opts.seed.shape, v.shape)) fail(op, `seed ${fmtShape(opts.seed.shape)} must match the output ${fmtShape(v.shape)}`);
      const seed = opts.seed ?? onesLike(v);
      return { value: v, grads: backprop(tape, v, seed, leaves) };
    }));
  } finally {
    tape.dispose();
  }
  return { value, grads };
}

/** Returns a function computing f and the gradient of f with respect to each tensor argument. */
export function valueAndGrad<A extends Tensor[]>(f: (...args: A) => Tensor, opts: GradOptions = {}): (...args: A) => { value: Tensor; grads: Tensor[] } {
  return (...args: A) => run("valueAndGrad", (...leaves) => f(...(leaves as A)), checkWrt("valueAndGrad", args), opts, true);
}

/** Returns a function computing the gradient of f with respect to each tensor argument. */
export function grad<A extends Tensor[]>(f: (...args: A) => Tensor, opts: GradOptions = {}): (...args: A) => Tensor[] {
  return (...args: A) => {
    const { value, grads } = run("grad", (...leaves) => f(...(leaves as A)), checkWrt("grad", args), opts, true);
    value.dispose();
    return grads;
  };
}

/**
 * The value of f() and its gradient with respect to tensors it closes over (an array or a
 * name -> tensor record, e.g. `module.namedParameters()`); the grads have the same structure.
 */
export function gradients<P extends readonly Tensor[] | Record<string, Tensor>>(f: () => Tensor, params: P, opts: GradOptions = {}): { value: Tensor; grads: P } {
  const names = Array.isArray(params) ? null : Object.keys(params);
  const list = names ? names.map((n) => (params as Record<string, Tensor>)[n]) : [...(params as readonly Tensor[])];
  const { value, grads } = run("gradients", () => f(), checkWrt("gradients", list), opts, false);
  if (!names) return { value, grads: grads as unknown as P };
  const rec: Record<string, Tensor> = {};
  names.forEach((n, i) => (rec[n] = grads[i]));
  return { value, grads: rec as P };
}

/** What a custom-gradient forward returns. */
export interface CustomGradResult {
  value: Tensor;
  /**
   * Maps the output cotangent to one cotangent per input (null: no gradient). It may use tensors
   * made in the forward; they stay alive until the backward pass is done. `inputs` are the op's
   * inputs as the tape keeps them: alive until the backward pass is done even when the caller
   * disposed its own handles, so a forward need not copy its inputs for the backward.
   */
  grad: (dy: Tensor, inputs: readonly Tensor[]) => (Tensor | null)[];
}

/**
 * Defines an op with its own backward rule, e.g. a straight-through estimator:
 *   const ste = customGrad((x) => ({ value: round(x), grad: (dy) => [dy] }));
 * The forward runs without recording. Tensors it creates besides the value belong to the tape
 * node (freed after the backward pass), or are freed at once when nothing is recording.
 */
export function customGrad<A extends Tensor[]>(f: (...inputs: A) => CustomGradResult, name = "customGrad"): (...inputs: A) => Tensor {
  return (...inputs: A) => {
    for (const [i, t] of inputs.entries()) {
      if (!isTensor(t)) fail(name, `input ${i} is not a Tensor`);
      t.assertAlive(name);
    }
    const { result, created } = scoped(() => withoutRecording(() => f(...inputs)));
    if (!result || !isTensor(result.value) || typeof result.grad !== "function") {
      dispose(created);
      fail(name, "the forward must return { value: Tensor, grad: (dy) => grads }");
    }
    // A forward that hands back an input (or any tensor it did not make) gets a fresh handle.
    const made = created.includes(result.value);
    const value = made ? result.value : viewOf(result.value, result.value.shape, result.value.strides, result.value.offset);
    if (made) trackTensor(value);
    const owned = created.filter((t) => t !== value);
    return record(name, inputs, value, (dy, ins) => result.grad(dy, ins), owned);
  };
}

/** What a multi-output custom-gradient forward returns. */
export interface CustomGradMultiResult {
  values: Tensor[];
  /** Maps one cotangent per value (zeros for unused values) to one cotangent per input. */
  grad: (dys: Tensor[]) => (Tensor | null)[];
}

/**
 * customGrad for ops with several outputs (a scan's output and its last state). The values are
 * recorded as one packed node and handed back as views, so any subset of them may feed the loss.
 * All values must share one float dtype.
 */
export function customGradMulti<A extends Tensor[]>(f: (...inputs: A) => CustomGradMultiResult, name = "customGrad"): (...inputs: A) => Tensor[] {
  return (...inputs: A) => {
    let shapes: (readonly number[])[] = [];
    const packed = customGrad((...xs: A) => {
      const r = f(...xs);
      if (!r || !Array.isArray(r.values) || r.values.length === 0 || typeof r.grad !== "function") {
        fail(name, "the forward must return { values: Tensor[], grad: (dys) => grads }");
      }
      const dtype = r.values[0].dtype;
      for (const v of r.values) if (!isTensor(v) || v.dtype !== dtype) fail(name, "the values must be tensors of one dtype");
      shapes = r.values.map((v) => v.shape);
      const value = concat(
        r.values.map((v) => reshape(v, [v.size])),
        0,
      );
      return { value, grad: (dy) => r.grad(unpack(dy, shapes)) };
    }, name);
    const flat = packed(...inputs);
    const out = unpack(flat, shapes);
    flat.dispose();
    return out;
  };
}

/** Splits a flat tensor into pieces of the given shapes (views, recorded). */
function unpack(flat: Tensor, shapes: readonly (readonly number[])[]): Tensor[] {
  let at = 0;
  return shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const part = narrow(flat, 0, at, n); // [n]
    const piece = reshape(part, s);
    if (piece !== part) part.dispose(); // the view keeps the storage (and the tape its input)
    at += n;
    return piece;
  });
}
