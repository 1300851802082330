/**
 * Activation calibration: while `run` executes (forward passes over calibration data), every
 * submodule whose name matches `include` has its input observed by a fresh observer; the
 * modules' forward methods are restored afterwards, even if `run` throws.
 */
import type { Module, Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import type { RangeObserver } from "./observers";

type Forwardable = Module & { forward: (x: Tensor, ...rest: unknown[]) => unknown };

export async function calibrate(
  model: Module,
  opts: { include: RegExp; observer: () => RangeObserver },
  run: () => unknown | Promise<unknown>,
): Promise<Map<string, RangeObserver>> {
  const observers = new Map<string, RangeObserver>();
  const restore: (() => void)[] = [];
  for (const [name, m] of model.namedModules()) {
    if (!name || !opts.include.test(name) || typeof (m as Forwardable).forward !== "function") continue;
    const mod = m as Forwardable;
    const obs = opts.observer();
    observers.set(name, obs);
    const own = Object.prototype.hasOwnProperty.call(mod, "forward");
    const original = mod.forward;
    mod.forward = function (this: Forwardable, x: Tensor, ...rest: unknown[]) {
      obs.observe(x);
      return original.call(this, x, ...rest);
    };
    restore.push(() => {
      if (own) mod.forward = original;
      else delete (mod as Partial<Forwardable>).forward;
    });
  }
  if (!observers.size) fail("calibrate", `no module name matches ${opts.include}`);
  try {
    await run();
  } finally {
    for (const r of restore) r();
  }
  return observers;
}
