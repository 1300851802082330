/**
 * WebAssembly feature detection (`wasmFeatures`) and the choice of a module's relaxed-SIMD build.
 * This file also runs in a Node started with --experimental-wasm-relaxed-simd
 * (wasm-relaxed-simd.test.ts), told what to expect by TESSERA_EXPECT_RELAXED_SIMD ("1" / "0").
 */
import { describe, expect, it } from "vitest";
import { compileWasm, wasmFeatures } from "../src/index";

const expected = process.env.TESSERA_EXPECT_RELAXED_SIMD;

/** A module exporting one function `name: () -> v128` of f32x4.splat(0) x `splats`, then `op`. */
function module64(name: string, splats: number, op: number[]): string {
  const splat0 = [0x43, 0, 0, 0, 0, 0xfd, 0x13];
  const body = [0x00, ...Array.from({ length: splats }, () => splat0).flat(), ...op, 0x0b];
  const nm = [...new TextEncoder().encode(name)];
  const exp = [0x01, nm.length, ...nm, 0x00, 0x00]; // one export: function 0
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b],
    ...[0x03, 0x02, 0x01, 0x00],
    ...[0x07, exp.length, ...exp],
    ...[0x0a, body.length + 2, 0x01, body.length, ...body],
  ];
  return Buffer.from(bytes).toString("base64");
}
const SIMD128 = module64("simd128", 2, [0xfd, 0xe4, 0x01]); // f32x4.add
const RELAXED = module64("relaxed", 3, [0xfd, 0x85, 0x02]); // f32x4.relaxed_madd

describe("wasmFeatures", () => {
  it("Node has SIMD128 and shared memory", () => {
    const f = wasmFeatures();
    expect(f.simd).toBe(true);
    expect(f.threads).toBe(true);
  });

  it("relaxed SIMD: as the runtime says, off with TESSERA_WASM_RELAXED_SIMD=0", () => {
    const f = wasmFeatures();
    const off = process.env.TESSERA_WASM_RELAXED_SIMD === "0";
    expect(f.relaxedSimd).toBe(f.relaxedSimdSupported && !off);
    // what V8 says of a module using f32x4.relaxed_madd
    expect(f.relaxedSimdSupported).toBe(WebAssembly.validate(Buffer.from(RELAXED, "base64")));
    if (expected !== undefined) expect(f.relaxedSimd).toBe(expected === "1");
    else if (process.versions.node.startsWith("20.") && !process.execArgv.includes("--experimental-wasm-relaxed-simd")) expect(f.relaxedSimdSupported).toBe(false); // Node 20: behind the flag
  });

  it("compileWasm takes the relaxed build exactly when relaxedSimd, else the SIMD128 one", () => {
    const c = compileWasm({ plain: SIMD128, relaxed: { plain: RELAXED } })!;
    const relaxed = wasmFeatures().relaxedSimd;
    expect(c.relaxed).toBe(relaxed);
    expect(WebAssembly.Module.exports(c.module as WebAssembly.Module).map((e) => e.name)).toEqual([relaxed ? "relaxed" : "simd128"]);
    const none = compileWasm({ plain: SIMD128 })!; // no relaxed build: SIMD128 everywhere
    expect(none.relaxed).toBe(false);
    // a "relaxed" build that does not validate (truncated): the SIMD128 build serves
    const broken = compileWasm({ plain: SIMD128, relaxed: { plain: RELAXED.slice(0, 40) } })!;
    expect(broken.relaxed).toBe(false);
    expect(WebAssembly.Module.exports(broken.module as WebAssembly.Module).map((e) => e.name)).toEqual(["simd128"]);
  });
});
