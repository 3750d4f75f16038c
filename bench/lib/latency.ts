// Exact latency percentiles from every recorded sample. autocannon's own
// histogram counts whole milliseconds, too coarse for a 1 ms target, so the
// benchmark records each response time itself and sorts them here.

export class Samples {
  private values = new Float64Array(1 << 16);
  private size = 0;

  add(ms: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = ms;
  }

  get count(): number {
    return this.size;
  }

  /** Percentiles (0–100) by the nearest-rank method, in ms. */
  percentiles(ps: number[]): Record<string, number> {
    const sorted = this.values.slice(0, this.size).sort();
    const result: Record<string, number> = {};
    for (const p of ps) {
      if (sorted.length === 0) {
        result[`p${p}`] = Number.NaN;
        continue;
      }
      const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
      result[`p${p}`] = sorted[rank - 1]!;
    }
    return result;
  }
}
