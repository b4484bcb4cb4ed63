// Count, mean, min, max and percentiles of ranges of Float64Arrays, in
// three linear passes and without reordering them: the figures SQL's AVG and
// percentile_cont give, for the MTTR collector (mttr-stats.ts).

export interface RangeStatistics {
  count: number;
  mean: number;
  min: number;
  max: number;
  /** One value per fraction asked for, in the same order. */
  percentiles: number[];
}

/** values[from, to): one part of a set of values that may lie in several arrays (one per thread that read them). */
export interface ValueRange {
  values: Float64Array;
  from: number;
  to: number;
}

/** The sum, the least and the greatest of a set of values, summed in the order the values came. */
export interface KnownExtent {
  sum: number;
  min: number;
  max: number;
}

export interface Quantiles {
  /** Statistics of values[from, to) (not empty). */
  rangeStatistics(values: Float64Array, from: number, to: number, ps: readonly number[]): RangeStatistics;
  /** Statistics of the values of all the ranges together (not all empty); `known`: their sum, least and greatest, if kept as they came. */
  partsStatistics(parts: readonly ValueRange[], ps: readonly number[], known?: KnownExtent): RangeStatistics;
  /** The values at the given ranks (ascending) of the ranges' values together. */
  orderStatistics(parts: readonly ValueRange[], min: number, max: number, ranks: readonly number[]): number[];
}

/**
 * The functions, made by a function that refers to nothing outside itself:
 * its source (toString) is part of the MTTR reader thread's code, which
 * travels as text (sqlite-mttr-thread.ts).
 */
export function defineQuantiles(): Quantiles {
  /** Ranges this small are copied and sorted: cheaper than counting into buckets. */
  const SORT_BELOW = 256;
  const MAX_BUCKETS = 1 << 16;

  /**
   * The mean is SQLite's AVG: integers summed exactly (a double is exact
   * below 2^53, BigInt past it), then divided by the count. Each percentile
   * interpolates between the two ranks around p·(n−1) with percentile_cont's
   * own double arithmetic, and is rounded to the microsecond as the SQL path
   * rounded its result.
   */
  function partsStatistics(parts: readonly ValueRange[], ps: readonly number[], known?: KnownExtent): RangeStatistics {
    let n = 0;
    let sum = known ? known.sum : 0;
    let min = known ? known.min : Infinity;
    let max = known ? known.max : -Infinity;
    for (const { values, from, to } of parts) {
      n += to - from;
      if (known) continue;
      for (let i = from; i < to; i++) {
        const v = values[i]!;
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (Math.abs(sum) >= 2 ** 53 && parts.every(({ values, from, to }) => values.subarray(from, to).every(Number.isInteger))) {
      let exact = 0n;
      for (const { values, from, to } of parts) for (let i = from; i < to; i++) exact += BigInt(values[i]!);
      sum = Number(exact);
    }
    const positions = ps.map((p) => {
      const ix = p * (n - 1);
      const i1 = Math.floor(ix);
      return { ix, i1, i2: ix === i1 || i1 === n - 1 ? i1 : i1 + 1 };
    });
    const ranks = [...new Set(positions.flatMap((r) => [r.i1, r.i2]))].sort((a, b) => a - b);
    const ranked = new Map(ranks.map((rank, i) => [rank, 0] as [number, number]));
    orderStatistics(parts, min, max, ranks).forEach((value, i) => ranked.set(ranks[i]!, value));
    const percentiles = positions.map(({ ix, i1, i2 }) => {
      const [v1, v2] = [ranked.get(i1)!, ranked.get(i2)!];
      return Math.round((v1 + (v2 - v1) * (ix - i1)) * 1000) / 1000;
    });
    return { count: n, mean: sum / n, min, max, percentiles };
  }

  /**
   * One pass counts the values into buckets of equal width between min and
   * max (a value's bucket grows with it, so buckets are in value order), a
   * second gathers the values of the few buckets that hold a wanted rank,
   * and only those are sorted.
   */
  function orderStatistics(parts: readonly ValueRange[], min: number, max: number, ranks: readonly number[]): number[] {
    let n = 0;
    for (const { from, to } of parts) n += to - from;
    if (min === max) return ranks.map(() => min);
    if (n < SORT_BELOW) {
      const sorted = new Float64Array(n);
      let k = 0;
      for (const { values, from, to } of parts) (sorted.set(values.subarray(from, to), k), (k += to - from));
      sorted.sort();
      return ranks.map((r) => sorted[r]!);
    }
    const buckets = Math.min(MAX_BUCKETS, 2 ** Math.ceil(Math.log2(n / 4)));
    const scale = (buckets - 1) / (max - min);
    // starts[b]: how many values fall in the buckets below b (counts first, then summed).
    const starts = new Int32Array(buckets + 1);
    for (const { values, from, to } of parts) for (let i = from; i < to; i++) starts[((values[i]! - min) * scale) | 0]!++;
    for (let b = 0, below = 0; b <= buckets; b++) {
      const count = starts[b]!;
      starts[b] = below;
      below += count;
    }
    const bucketOf = (rank: number) => {
      let [lo, hi] = [0, buckets - 1];
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= rank) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const wanted = [...new Set(ranks.map(bucketOf))].sort((a, b) => a - b);
    const marked = new Uint8Array(buckets);
    // Where each wanted bucket's values begin among the gathered ones.
    const gatheredBefore = new Map<number, number>();
    let gathered = 0;
    for (const b of wanted) {
      marked[b] = 1;
      gatheredBefore.set(b, gathered);
      gathered += starts[b + 1]! - starts[b]!;
    }
    const picked = new Float64Array(gathered);
    let k = 0;
    for (const { values, from, to } of parts) {
      for (let i = from; i < to; i++) {
        const v = values[i]!;
        if (marked[((v - min) * scale) | 0] === 1) picked[k++] = v;
      }
    }
    picked.sort();
    return ranks.map((rank) => {
      const b = bucketOf(rank);
      return picked[gatheredBefore.get(b)! + rank - starts[b]!]!;
    });
  }

  return {
    rangeStatistics: (values, from, to, ps) => partsStatistics([{ values, from, to }], ps),
    partsStatistics,
    orderStatistics,
  };
}

export const { rangeStatistics, partsStatistics, orderStatistics } = defineQuantiles();
