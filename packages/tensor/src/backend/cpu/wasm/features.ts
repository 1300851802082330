/**
 * What the WebAssembly runtime offers, detected once at start-up by validating tiny modules:
 * SIMD128 (every kernel needs it), relaxed SIMD (fused multiply-add: the kernels' relaxed builds;
 * on by default in Chrome 114+ and Node 22+, behind `--experimental-wasm-relaxed-simd` in
 * Node 20) and shared memory for worker threads.
 *
 * Override: `TESSERA_WASM_RELAXED_SIMD=0` in the environment (Node), or
 * `globalThis.TESSERA_WASM_RELAXED_SIMD = "0"` before the first kernel loads (browsers), keeps
 * the SIMD128 builds where relaxed SIMD exists (tests of the fallback; comparisons).
 */

export interface WasmFeatures {
  /** WebAssembly with 128-bit SIMD (the kernels' baseline); false: the TypeScript loops serve. */
  simd: boolean;
  /** Relaxed SIMD is there and not turned off: the kernels load their relaxed builds. */
  relaxedSimd: boolean;
  /** Relaxed SIMD is there (whether or not TESSERA_WASM_RELAXED_SIMD=0 turned it off). */
  relaxedSimdSupported: boolean;
  /** Memory can be shared with worker threads (Node, cross-origin isolated pages). */
  threads: boolean;
}

/** Whether WebAssembly memory can be shared with worker threads here (Node, or a cross-origin isolated page). */
export function canShareWasmMemory(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; process?: { versions?: { node?: string } } };
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined") return false;
  return !!g.process?.versions?.node || g.crossOriginIsolated === true;
}

/** A module with one function `() -> v128`: `splats` times f32x4.splat(0.0), then `op`. */
function probe(splats: number, op: number[]): Uint8Array<ArrayBuffer> {
  const splat0 = [0x43, 0, 0, 0, 0, 0xfd, 0x13]; // f32.const 0; f32x4.splat
  const body = [0x00, ...Array.from({ length: splats }, () => splat0).flat(), ...op, 0x0b]; // no locals ... end
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type section: () -> v128
    ...[0x03, 0x02, 0x01, 0x00], // function section: one function of type 0
    ...[0x0a, body.length + 2, 0x01, body.length, ...body], // code section
  ]);
}
/** f32x4.add (0xfd 0xe4, LEB128 opcode): SIMD128. */
const SIMD128 = probe(2, [0xfd, 0xe4, 0x01]);
/** f32x4.relaxed_madd (0xfd 0x105): relaxed SIMD. */
const RELAXED = probe(3, [0xfd, 0x85, 0x02]);

function turnedOff(): boolean {
  const g = globalThis as { TESSERA_WASM_RELAXED_SIMD?: string; process?: { env?: Record<string, string | undefined> } };
  const v = g.process?.env?.TESSERA_WASM_RELAXED_SIMD ?? g.TESSERA_WASM_RELAXED_SIMD;
  return v === "0" || v === "false";
}

let detected: Omit<WasmFeatures, "relaxedSimd"> | undefined;

/** The runtime's WebAssembly features (detected once; the override is read on every call). */
export function wasmFeatures(): WasmFeatures {
  if (!detected) {
    const ok = typeof WebAssembly !== "undefined";
    const simd = ok && WebAssembly.validate(SIMD128);
    detected = { simd, relaxedSimdSupported: simd && WebAssembly.validate(RELAXED), threads: ok && canShareWasmMemory() };
  }
  return { ...detected, relaxedSimd: detected.relaxedSimdSupported && !turnedOff() };
}
