/**
 * Runs every implementation of one case side by side, checks each result against Tessera's,
 * and returns the rows.
 */
import { measure, type Row } from "./harness";
import { maxAbsDiff, type Impl, type SuiteContext } from "./suite";

export interface CaseSpec {
  suite: string;
  name: string;
  impls: Impl[];
  /** Work per run, for the throughput column. */
  flops?: number;
  bytes?: number;
  /** Results may differ by this much from Tessera's before a row is flagged. */
  tolerance: number;
}

export async function runCase(ctx: SuiteContext, spec: CaseSpec): Promise<Row[]> {
  const rows: Row[] = [];
  let reference: Float32Array | null = null;
  for (const impl of spec.impls.filter((i) => ctx.keepImpl?.(i.impl) ?? true)) {
    let row: Row;
    try {
      const inst = await impl.setup();
      try {
        const t = await measure(inst.run, ctx.measure);
        const out = await inst.result();
        let note: string | undefined;
        if (!reference) reference = out;
        else {
          const d = maxAbsDiff(out, reference);
          note = `max |diff| vs tessera ${d.toExponential(1)}`;
          if (!(d <= spec.tolerance)) note += ` (above ${spec.tolerance}!)`;
        }
        row = { suite: spec.suite, case: spec.name, impl: impl.impl, backend: impl.backend, median_ms: t.median, min_ms: t.min, max_ms: t.max, runs: t.runs, note };
        if (inst.peak) row.peak_bytes = await inst.peak();
        if (spec.flops) row.gflops = spec.flops / (t.median * 1e6);
        if (spec.bytes) row.gbps = spec.bytes / (t.median * 1e6);
      } finally {
        await inst.dispose();
      }
    } catch (e) {
      row = {
        suite: spec.suite,
        case: spec.name,
        impl: impl.impl,
        backend: impl.backend,
        median_ms: NaN,
        min_ms: NaN,
        max_ms: NaN,
        runs: 0,
        note: `failed: ${(e as Error).message.split("\n")[0]}`,
      };
    }
    ctx.onRow?.(row);
    rows.push(row);
  }
  return rows;
}
