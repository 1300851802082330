/**
 * The printed table: one block per case, each implementation's median (min..max) and its speed
 * relative to Tessera in the same run.
 */
import type { Row } from "./harness";

const fmt = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : "-");

/** A duration for people: "902 ms", "12.3 ms", "0.47 ms". */
export function formatMs(ms: number): string {
  return `${ms.toFixed(ms >= 100 ? 0 : ms >= 10 ? 1 : 2)} ms`;
}

/** "1m 23s" / "42.0 s". */
export function formatWall(ms: number): string {
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

/** The line printed as each row finishes: `[12/48] attention causal T=2048 tessera tiled ... 902 ms`. */
export function progressLine(i: number, n: number, row: Row): string {
  if (row.accuracy !== undefined) return `[${i}/${n}] ${row.suite} ${row.case} ${row.impl} ... acc ${row.accuracy.toFixed(2)} (${(row.median_ms / 1000).toFixed(1)} s)`;
  const result = row.runs > 0 && Number.isFinite(row.median_ms) ? formatMs(row.median_ms) : (row.note ?? "failed");
  return `[${i}/${n}] ${row.suite} ${row.case} ${row.impl} ... ${result}`;
}

export const LEGEND = "speed vs tessera = tessera's median time / that implementation's (above 1: faster than tessera).";

/** One block per case; `legend: false` leaves out the closing line explaining the ratio column. */
export function formatTable(rows: Row[], opts: { legend?: boolean } = {}): string {
  const lines: string[] = [];
  const cases = [...new Set(rows.map((r) => `${r.suite}\u0000${r.case}`))];
  for (const key of cases) {
    const [suite, name] = key.split("\u0000");
    const group = rows.filter((r) => r.suite === suite && r.case === name);
    const base = group.find((r) => r.impl === "tessera");
    lines.push(`\n${suite} / ${name}`);
    const peaks = group.some((r) => r.peak_bytes !== undefined);
    const implWidth = Math.max(20, ...group.map((r) => r.impl.length));
    lines.push(
      `  ${"impl".padEnd(implWidth)} ${"backend".padEnd(8)} ${"median ms".padStart(10)} ${"min..max ms".padStart(19)} ${"runs".padStart(4)} ${"throughput".padStart(14)} ${"speed vs tessera".padStart(16)}${peaks ? " peak MiB" : ""}  note`,
    );
    for (const r of group) {
      const thr = r.gflops !== undefined ? `${fmt(r.gflops)} GFLOP/s` : r.gbps !== undefined ? `${fmt(r.gbps)} GB/s` : "";
      const rel = base && Number.isFinite(r.median_ms) ? `${fmt(base.median_ms / r.median_ms)}x` : "-";
      const peak = peaks ? (r.peak_bytes !== undefined ? fmt(r.peak_bytes / 2 ** 20, 1) : "-").padStart(9) : "";
      lines.push(
        `  ${r.impl.padEnd(implWidth)} ${r.backend.padEnd(8)} ${fmt(r.median_ms).padStart(10)} ${`${fmt(r.min_ms)}..${fmt(r.max_ms)}`.padStart(19)} ${String(r.runs).padStart(4)} ${thr.padStart(14)} ${rel.padStart(16)}${peak}  ${r.note ?? ""}`,
      );
    }
  }
  if (opts.legend ?? true) lines.push(`\n${LEGEND}`);
  return lines.join("\n");
}
