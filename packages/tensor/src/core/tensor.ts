import type { View } from "../backend/backend";
import { halfToF32, isHalf, type DataArray, type DataArrayOf, type DType, type StorageArray } from "./dtype";
import { trackTensor } from "./engine";
import { state, TENSOR_BRAND } from "./state";
import { fail, fmtShape } from "./errors";
import { contiguousStrides, isContiguous, sizeOf } from "./shape";
import { memoryOf, type Storage } from "./storage";
import { permute, reshape, transpose } from "../ops/view";

/** Nested JS arrays of numbers (or booleans for bool tensors), of any depth. */
export type NestedArray = number | boolean | NestedArray[];

/** The ranks `array(rank)` / `arraySync(rank)` type precisely. */
export type Rank = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** Nested number arrays of a given depth: `NestedNumbers<0>` is number, `NestedNumbers<2>` number[][]. */
export type NestedNumbers<R extends Rank> = R extends 0
  ? number
  : R extends 1
    ? number[]
    : R extends 2
      ? number[][]
      : R extends 3
        ? number[][][]
        : R extends 4
          ? number[][][][]
          : R extends 5
            ? number[][][][][]
            : R extends 6
              ? number[][][][][][]
              : R extends 7
                ? number[][][][][][][]
                : number[][][][][][][][];

const DATA_CLASS: Record<DType, Function> = {
  float32: Float32Array,
  float16: Float32Array,
  bfloat16: Float32Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/**
 * An n-dimensional array on one backend: a strided view (shape, strides, offset) over a
 * reference-counted storage. Most math lives in functional ops (`add(a, b)`, `matmul(a, b)`);
 * the class keeps only what every tensor needs.
 */
export class Tensor {
  /** Unique per handle. */
  readonly id: number;
  /**
   * Autograd identity: the node of the computation graph this value is. Internal handles made
   * by `ref()` share it; new op outputs get a fresh one.
   */
  key: number;
  /** Exempt from tidy (see `keep`). */
  kept = false;
  private disposedFlag = false;

  /** Brand checked by isTensor (works across copies of the package, unlike instanceof). */
  get [TENSOR_BRAND](): true {
    return true;
  }

  /** @internal Use ops or `tensor()` to make tensors. */
  constructor(
    public storage: Storage,
    public shape: readonly number[],
    public strides: readonly number[],
    public offset: number,
    public readonly dtype: DType,
    track = true,
  ) {
    this.id = state.nextTensorId++;
    this.key = this.id;
    memoryOf(storage.backend.name).numTensors++;
    if (track) trackTensor(this);
  }

  /** @internal A handle sharing storage and autograd identity, not owned by any tidy scope. */
  ref(): Tensor {
    this.assertAlive("ref");
    this.storage.retain();
    const t = new Tensor(this.storage, this.shape, this.strides, this.offset, this.dtype, false);
    t.key = this.key;
    return t;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Name of the backend holding the data. */
  get backend(): string {
    return this.storage.backend.name;
  }

  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** @internal Throws a clear error when used after dispose. */
  assertAlive(op: string): void {
    if (this.disposedFlag || !this.storage.alive) fail(op, `tensor ${fmtShape(this.shape)} ${this.dtype} was used after dispose()`);
  }

  /** @internal The kernel-facing description of this tensor. */
  view(): View {
    return { data: this.storage.data, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** @internal Storage bits of this tensor, contiguous and in row-major order. */
  async rawData(): Promise<StorageArray> {
    this.assertAlive("data");
    const { backend } = this.storage;
    if (this.offset === 0 && this.isContiguous && this.storage.size === this.size) {
      return backend.read(this.storage.data, this.dtype, this.size);
    }
    const tmp = backend.copy(this.view(), this.dtype);
    try {
      return await backend.read(tmp, this.dtype, this.size);
    } finally {
      backend.free(tmp);
    }
  }

  /** @internal Synchronous variant of rawData (cpu only). */
  rawDataSync(): StorageArray {
    this.assertAlive("dataSync");
    const { backend } = this.storage;
    if (!backend.canReadSync || !backend.readSync) {
      fail("dataSync", `backend '${backend.name}' reads asynchronously: use await tensor.data()`);
    }
    if (this.offset === 0 && this.isContiguous && this.storage.size === this.size) {
      return backend.readSync(this.storage.data, this.dtype, this.size);
    }
    const tmp = backend.copy(this.view(), this.dtype);
    try {
      return backend.readSync(tmp, this.dtype, this.size);
    } finally {
      backend.free(tmp);
    }
  }

  /**
   * The values, row-major, as a fresh typed array (float16/bfloat16 widened to Float32Array).
   * With a dtype the result is typed precisely (`data("float32")`: Float32Array) and checked:
   * it throws when the tensor's values are another kind of array (e.g. an int32 tensor).
   */
  async data(): Promise<DataArray>;
  async data<D extends DType>(dtype: D): Promise<DataArrayOf<D>>;
  async data(dtype?: DType): Promise<DataArray> {
    return this.checkData("data", dtype, widen(this.dtype, await this.rawData()));
  }

  /** Whether `dataSync()` works here: the backend reads synchronously (cpu), GPU backends do not. */
  get canReadSync(): boolean {
    return this.storage.backend.canReadSync;
  }

  /** Synchronous `data()`; only where the backend can honestly read synchronously (cpu). */
  dataSync(): DataArray;
  dataSync<D extends DType>(dtype: D): DataArrayOf<D>;
  dataSync(dtype?: DType): DataArray {
    return this.checkData("dataSync", dtype, widen(this.dtype, this.rawDataSync()));
  }

  /**
   * The values as nested arrays (booleans for bool tensors). With a rank the result is typed
   * precisely (`array(2)`: number[][]) and checked: it throws unless the tensor has that rank;
   * bool values are then read as 0 / 1.
   */
  async array(): Promise<NestedArray>;
  async array<R extends Rank>(rank: R): Promise<NestedNumbers<R>>;
  async array(rank?: Rank): Promise<NestedArray> {
    this.checkRank("array", rank);
    return nest(await this.data(), this.shape, this.dtype === "bool" && rank === undefined);
  }

  /** Synchronous `array()` (cpu); `arraySync(2)` is number[][] for a rank-2 tensor. */
  arraySync(): NestedArray;
  arraySync<R extends Rank>(rank: R): NestedNumbers<R>;
  arraySync(rank?: Rank): NestedArray {
    this.checkRank("arraySync", rank);
    return nest(this.dataSync(), this.shape, this.dtype === "bool" && rank === undefined);
  }

  private checkData(op: string, dtype: DType | undefined, values: DataArray): DataArray {
    if (dtype !== undefined && !(values instanceof DATA_CLASS[dtype])) {
      fail(
        op,
        `asked for ${dtype} values (${DATA_CLASS[dtype].name}) but tensor ${fmtShape(this.shape)} is ${this.dtype} (${values.constructor.name}): cast it first, or call ${op}() without a dtype`,
      );
    }
    return values;
  }

  private checkRank(op: string, rank: Rank | undefined): void {
    if (rank !== undefined && rank !== this.rank) fail(op, `asked for rank ${rank} but tensor ${fmtShape(this.shape)} has rank ${this.rank}`);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) fail("item", `tensor ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return (await this.data())[0];
  }

  itemSync(): number {
    if (this.size !== 1) fail("item", `tensor ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return this.dataSync()[0];
  }

  reshape(...shape: number[] | [readonly number[]]): Tensor {
    const s = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
    return reshape(this, s);
  }

  transpose(axis0 = -2, axis1 = -1): Tensor {
    return transpose(this, axis0, axis1);
  }

  permute(...axes: number[]): Tensor {
    return permute(this, axes);
  }

  /** Releases this handle; the storage is freed when no handle or view uses it. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    memoryOf(this.storage.backend.name).numTensors--;
    this.storage.release();
  }

  toString(): string {
    const head = `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.backend})`;
    if (this.disposedFlag) return `${head} <disposed>`;
    if (!this.storage.backend.canReadSync || this.size > 1000) return head;
    return `${head} ${JSON.stringify(this.arraySync())}`;
  }
}

/** True for tensors made by any loaded copy of @tessera/tensor. */
export function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[TENSOR_BRAND] === true;
}

function widen(dtype: DType, raw: StorageArray): DataArray {
  if (isHalf(dtype)) return halfToF32(dtype as "float16" | "bfloat16", raw as Uint16Array);
  return raw as DataArray;
}

function nest(values: DataArray, shape: readonly number[], asBool: boolean): NestedArray {
  const conv = (v: number): number | boolean => (asBool ? v !== 0 : v);
  if (shape.length === 0) return conv(values[0]);
  const strides = contiguousStrides(shape);
  const build = (dim: number, off: number): NestedArray[] => {
    const out: NestedArray[] = [];
    for (let i = 0; i < shape[dim]; i++) {
      const o = off + i * strides[dim];
      out.push(dim === shape.length - 1 ? conv(values[o]) : build(dim + 1, o));
    }
    return out;
  };
  return build(0, 0);
}
