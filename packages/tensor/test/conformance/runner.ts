/**
 * One conformance suite for every backend: each case runs on cpu (the reference) and on the
 * backend under test, with the same host-generated inputs; values, shapes and dtypes must agree.
 * The expected side runs under the 'reference' kernel preference: the cpu backend's plain
 * TypeScript loops (no WASM SIMD) and no registered fused kernels, the oracle of every backend.
 */
import { describe, expect, it } from "vitest";
import * as T from "../../src/index";
import { assertClose } from "../../src/testing";
import { CASES, resetSeed } from "./cases";

async function compare(backend: string, name: string, run: (b: string) => T.Tensor | T.Tensor[], atol: number, rtol: number): Promise<void> {
  const asList = (r: T.Tensor | T.Tensor[]) => (Array.isArray(r) ? r : [r]);
  resetSeed();
  T.setBackend("cpu");
  const expected = T.withKernelPreference("reference", () => T.tidy(() => asList(run("cpu"))));
  resetSeed();
  T.setBackend(backend);
  const actual = T.tidy(() => asList(run(backend)));
  T.setBackend("cpu");
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(actual[i].backend).toBe(backend);
    expect(actual[i].dtype, `${name} [${i}] dtype`).toBe(expected[i].dtype);
    expect(actual[i].shape, `${name} [${i}] shape`).toEqual(expected[i].shape);
    await assertClose(actual[i], expected[i], { atol, rtol, label: `${name} [${i}]` });
  }
  T.dispose([expected, actual]);
}

/** Registers `it` cases for every conformance case on `backend` (already registered and ready). */
export function conformanceSuite(backend: string, opts: { skip?: boolean } = {}): void {
  describe.skipIf(opts.skip ?? false)(`conformance: ${backend} vs cpu`, () => {
    for (const c of CASES) {
      it(c.name, async () => {
        try {
          await compare(backend, c.name, c.run, c.atol ?? 1e-5, c.rtol ?? 1e-5);
        } finally {
          T.setBackend("cpu");
        }
      });
    }
  });
}
