/** Small statistics shared by the benchmarks. */

/** The p-th percentile of `values` (nearest rank, p in 0–100); NaN when there are none. */
export function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** CPU seconds at time `t` (ms), interpolated between the two samples around it. */
export function cpuAt(samples: Array<{ t: number; cpu: number }>, t: number): number {
  const after = samples.findIndex((s) => s.t >= t);
  if (after <= 0) return samples[after === 0 ? 0 : samples.length - 1]?.cpu ?? NaN;
  const a = samples[after - 1]!;
  const b = samples[after]!;
  return a.cpu + ((b.cpu - a.cpu) * (t - a.t)) / Math.max(1, b.t - a.t);
}

/**
 * Least-squares fit of CPU per batch as `perNode × nodes + perSecond × wall seconds` (no intercept; `wall` in
 * ms, `cpu` in seconds): what each upgraded node costs, apart from what a process spends per second whatever
 * it does. Undefined with fewer than three batches.
 */
export function cpuFit(
  batches: Array<{ size: number; wall: number; cpu: number }>,
): { perNode: number; perSecond: number; r2: number } | undefined {
  const rows = batches.filter((b) => Number.isFinite(b.cpu)).map((b) => ({ n: b.size, w: b.wall / 1000, y: b.cpu }));
  if (rows.length < 3) return undefined;
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  const [nn, nw, ww, ny, wy] = [
    sum((r) => r.n * r.n),
    sum((r) => r.n * r.w),
    sum((r) => r.w * r.w),
    sum((r) => r.n * r.y),
    sum((r) => r.w * r.y),
  ];
  const det = nn * ww - nw * nw;
  if (det === 0) return undefined;
  const perNode = (ny * ww - wy * nw) / det;
  const perSecond = (wy * nn - ny * nw) / det;
  const mean = sum((r) => r.y) / rows.length;
  const residual = sum((r) => (r.y - perNode * r.n - perSecond * r.w) ** 2);
  const total = sum((r) => (r.y - mean) ** 2);
  return { perNode, perSecond, r2: total > 0 ? 1 - residual / total : 1 };
}
