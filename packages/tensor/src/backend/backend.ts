import type { DType, StorageArray } from "../core/dtype";

/**
 * A view of backend memory: the kernels' whole input description. `data` is the backend's
 * own handle (a typed array on cpu, a GPU buffer on webgpu). Strides are in elements, may be
 * 0 (broadcast) and are never negative.
 */
export interface View<D = unknown> {
  readonly data: D;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * The op lists, defined once: the kernel types, the conformance cases and gpu.js's native /
 * fallback sets are derived from these arrays (adding an op here makes the compiler point at
 * every backend table that lacks it).
 */
export const UNARY_OPS = [
  "neg",
  "abs",
  "sign",
  "exp",
  "expm1",
  "log",
  "log1p",
  "sqrt",
  "rsqrt",
  "square",
  "reciprocal",
  "tanh",
  "sigmoid",
  "relu",
  "gelu",
  "gelu_tanh",
  "silu",
  "softplus",
  "elu",
  "erf",
  "sin",
  "cos",
  "floor",
  "ceil",
  "round",
  "trunc",
  "clamp",
  "not",
  "isnan",
  "isinf",
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Attributes some unary ops read: clamp {min,max}, elu {alpha}, softplus {beta,threshold}. */
export interface UnaryAttrs {
  min?: number;
  max?: number;
  alpha?: number;
  beta?: number;
  threshold?: number;
}

export const BINARY_OPS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "mod", "atan2", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor"] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const REDUCE_OPS = ["sum", "mean", "prod", "max", "min", "any", "all"] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];
export const ARG_REDUCE_OPS = ["argmax", "argmin"] as const;
export type ArgReduceOp = (typeof ARG_REDUCE_OPS)[number];
export const CUMULATIVE_OPS = ["sum", "prod", "max", "min"] as const;
export type CumulativeOp = (typeof CUMULATIVE_OPS)[number];

export interface Conv1dParams {
  stride: number;
  padLeft: number;
  padRight: number;
  dilation: number;
  groups: number;
}

/**
 * The kernel set every backend implements. Kernels return fresh, contiguous storage of the
 * output's size; they never mutate inputs (except `write`, whose destination is a fresh buffer
 * owned by the caller). Shapes are validated by the op layer before a kernel is called, and
 * operands of elementwise kernels arrive with one shape (broadcasting is done with 0 strides).
 *
 * GPU backends enqueue work and return at once; `read` resolves when the data is back.
 */
export interface Backend<D = unknown> {
  readonly name: string;
  /** Whether `readSync` is honest (cpu) rather than absent (GPU backends). */
  readonly canReadSync: boolean;
  /**
   * Whether `matmul` takes float operands of two float dtypes (float32 activations with a float16
   * weight), computing in f32: the op layer then skips the cast (and its full-size copy).
   */
  readonly mixedFloatMatmul?: boolean;
  /** Bytes a storage of `size` elements takes (default: the dtype's size; GPU backends may pad). */
  storageBytes?(dtype: DType, size: number): number;

  // --- memory ---------------------------------------------------------------------------------
  /** Copies raw storage bits (the dtype's storage array) into a new backend buffer. */
  upload(values: StorageArray, dtype: DType): D;
  /** Wraps storage without copying, where the backend can (cpu); `borrowed`: the caller keeps owning it. */
  adopt?(values: StorageArray, dtype: DType, borrowed?: boolean): D;
  /** Reads `size` elements of raw storage bits starting at element 0. */
  read(data: D, dtype: DType, size: number): Promise<StorageArray>;
  readSync?(data: D, dtype: DType, size: number): StorageArray;
  /** Direct access to the storage array where one exists (cpu). */
  storageOf?(data: D): StorageArray;
  free(data: D): void;
  /** Resolves when all work enqueued so far has finished (async backends; for timing). */
  sync?(): Promise<void>;

  // --- kernels ----------------------------------------------------------------------------------
  fill(size: number, dtype: DType, value: number): D;
  /** Strided copy with a dtype conversion: makes `x` contiguous. */
  copy(x: View<D>, dtype: DType): D;
  /** Writes `src` (same shape) into the view `dst` of a caller-owned buffer, converting dtype. */
  write(dst: View<D>, src: View<D>): void;
  unary(op: UnaryOp, x: View<D>, outDtype: DType, attrs?: UnaryAttrs): D;
  binary(op: BinaryOp, a: View<D>, b: View<D>, outDtype: DType): D;
  where(cond: View<D>, a: View<D>, b: View<D>): D;
  /** Reduces `axes` (sorted, unique) away; output shape is x.shape without them. */
  reduce(op: ReduceOp, x: View<D>, axes: readonly number[], outDtype: DType): D;
  argReduce(op: ArgReduceOp, x: View<D>, axis: number): D;
  /** a [...batch, M, K] x b [...batch, K, N] -> [...batch, M, N]; batch dims already equal; same dtypes unless `mixedFloatMatmul`. */
  matmul(a: View<D>, b: View<D>, outDtype: DType): D;
  /**
   * Optional: a @ b + bias for float32 operands, bias [N] added to every row (a product with the
   * bias fused into its epilogue). Without it, the op layer adds the bias as a separate op.
   */
  matmulBias?(a: View<D>, b: View<D>, bias: View<D>, outDtype: DType): D;
  /** softmax or log-softmax along the last axis. */
  softmax(x: View<D>, log: boolean): D;
  /** Normalizes the last axis: (x - mean) / sqrt(var + eps) * weight + bias. */
  layerNorm(x: View<D>, weight: View<D> | null, bias: View<D> | null, eps: number): D;
  /** x / sqrt(mean(x^2) + eps) * weight, over the last axis. */
  rmsNorm(x: View<D>, weight: View<D> | null, eps: number): D;
  /** torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1; out shape = index shape. */
  gather(x: View<D>, axis: number, index: View<D>): D;
  /** Selects entries of a 1-D int32 `index` along `axis`. */
  indexSelect(x: View<D>, axis: number, index: View<D>): D;
  /** base + scatter of src along axis at index (torch.scatter_add). */
  scatterAdd(base: View<D>, axis: number, index: View<D>, src: View<D>): D;
  /** x [B, Cin, L], w [Cout, Cin/groups, K], bias [Cout] | null -> [B, Cout, Lout]. */
  conv1d(x: View<D>, w: View<D>, bias: View<D> | null, p: Conv1dParams): D;
  cumulative(op: CumulativeOp, x: View<D>, axis: number, reverse: boolean, exclusive: boolean): D;
  /** Sorts along the last axis (stable). Returns values and int32 indices. */
  sort(x: View<D>, descending: boolean): { values: D; indices: D };
  /** The k largest (or smallest) along the last axis, in order. */
  topk(x: View<D>, k: number, largest: boolean): { values: D; indices: D };
}
