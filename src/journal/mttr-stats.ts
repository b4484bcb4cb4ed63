// MTTR statistics from incident milestones, in one pass over the incidents:
// whatever the store reads them with (SQLite here, PostgreSQL later) hands
// each incident to an MttrCollector once, and every group's, cohort's and
// phase's count, mean, min, max and percentiles, the weekly trend and the
// histogram come from the typed arrays it fills. The figures are the ones
// SQL computed before: AVG over integer milliseconds, and percentile_cont's
// interpolation between ranks (see percentile below).
import type { MttrCountRow, MttrPhase, MttrPhaseRow, MttrQuery, MttrResult } from "./history-types.ts";

const WEEK_MS = 7 * 86_400_000;
/** 1970-01-05, the first Monday after the epoch: weeks start on Monday 00:00 UTC. */
const MONDAY_MS = 4 * 86_400_000;
/** Time-to-resolve histogram bounds: 5m, 15m, 30m, 1h, 2h, 4h, 8h, 1d, beyond. */
export const BUCKETS_MS: readonly number[] = [5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60_000);
const PHASES: readonly MttrPhase[] = ["detect", "isolate", "recover", "resolve"];
/** Counts kept per group and cohort, in this order. */
const COUNTS = ["incidents", "resolved", "open", "automated", "escalated", "attempts"] as const;

/** An incident's status as the statistics read it. */
export const STATUS = { other: 0, resolved: 1, open: 2 } as const;

/**
 * The values at fractions ps (ascending) of the n values from `from`, each
 * interpolated between the two ranks around p·(n−1) exactly as SQLite's
 * percentile_cont does (the same double arithmetic), then rounded to the
 * microsecond as the SQL path rounded its result. The ranks are selected in
 * place (quickselect), each search starting past the rank before it: the
 * range is reordered, never sorted whole.
 */
export function percentiles(values: Float64Array, from: number, n: number, ps: readonly number[]): number[] {
  const to = from + n;
  let lo = from;
  return ps.map((p) => {
    const ix = p * (n - 1);
    const i1 = Math.floor(ix);
    const i2 = ix === i1 || i1 === n - 1 ? i1 : i1 + 1;
    select(values, lo, to, from + i1);
    lo = from + i1;
    const v1 = values[lo]!;
    // Everything after rank i1 is no smaller than it: rank i1 + 1 is their minimum.
    let v2 = v1;
    if (i2 !== i1) {
      v2 = values[lo + 1]!;
      for (let i = lo + 2; i < to; i++) if (values[i]! < v2) v2 = values[i]!;
    }
    return Math.round((v1 + (v2 - v1) * (ix - i1)) * 1000) / 1000;
  });
}

/**
 * Puts the k-th smallest of values[lo, hi) at k, smaller ones before it and
 * larger ones after (Hoare partitions around a median of three). Small
 * ranges, and a range that keeps partitioning badly, are sorted instead, so
 * the cost stays linear on average and n·log n at worst.
 */
export function select(values: Float64Array, lo: number, hi: number, k: number): void {
  let left = lo;
  let right = hi - 1;
  let budget = 2 * Math.ceil(Math.log2(hi - lo + 1)) + 8;
  while (right > left) {
    if (right - left < 24 || --budget < 0) {
      values.subarray(left, right + 1).sort();
      return;
    }
    const mid = (left + right) >>> 1;
    const [a, b, c] = [values[left]!, values[mid]!, values[right]!];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i++] = values[j]!;
        values[j--] = swap;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/** SQLite's order of GROUP BY values (BINARY collation): NULL, then numbers, then text by code point. */
export function sqliteOrder(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (v === null || v === undefined ? 0 : typeof v === "number" || typeof v === "bigint" ? 1 : 2);
  const [ra, rb] = [rank(a), rank(b)];
  if (ra !== rb || ra === 0) return ra - rb;
  if (ra === 1) return Number(a) - Number(b);
  const [x, y] = [String(a), String(b)];
  // UTF-8 bytes compare as code points do, which UTF-16 units (JavaScript's <) do not past U+D7FF.
  for (let i = 0, j = 0; i < x.length && j < y.length; ) {
    const [cx, cy] = [x.codePointAt(i)!, y.codePointAt(j)!];
    if (cx !== cy) return cx - cy;
    i += cx > 0xffff ? 2 : 1;
    j += cy > 0xffff ? 2 : 1;
  }
  return [...x].length - [...y].length;
}

/** A growable Float64Array and a parallel Int32Array. */
class Tagged {
  values = new Float64Array(1 << 12);
  tags = new Int32Array(1 << 12);
  length = 0;

  push(value: number, tag: number): void {
    if (this.length === this.values.length) {
      const values = new Float64Array(this.length * 2);
      values.set(this.values);
      const tags = new Int32Array(this.length * 2);
      tags.set(this.tags);
      [this.values, this.tags] = [values, tags];
    }
    this.values[this.length] = value;
    this.tags[this.length++] = tag;
  }

  /** The values ordered by tag (a counting sort; order within a tag is kept), with where each tag starts. */
  byTag(tagCount: number, tagOf: (tag: number) => number = (t) => t): { values: Float64Array; starts: Int32Array } {
    const starts = new Int32Array(tagCount + 1);
    const keys = new Int32Array(this.length);
    for (let i = 0; i < this.length; i++) starts[(keys[i] = tagOf(this.tags[i]!)) + 1]!++;
    for (let t = 0; t < tagCount; t++) starts[t + 1]! += starts[t]!;
    const next = starts.slice(0, tagCount);
    const values = new Float64Array(this.length);
    for (let i = 0; i < this.length; i++) values[next[keys[i]!]!++] = this.values[i]!;
    return { values, starts };
  }
}

/** count, mean, min and max of values[from, to), with the mean as SQL's AVG gives it. */
function summary(values: Float64Array, from: number, to: number): { count: number; mean: number; min: number; max: number } {
  let [sum, min, max, whole] = [0, Infinity, -Infinity, true];
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (whole && !Number.isInteger(v)) whole = false;
  }
  // SQLite sums integers exactly in 64 bits; a double does too below 2^53, and BigInt past it.
  if (whole && Math.abs(sum) >= 2 ** 53) {
    let exact = 0n;
    for (let i = from; i < to; i++) exact += BigInt(values[i]!);
    sum = Number(exact);
  }
  return { count: to - from, mean: sum / (to - from), min, max };
}

/**
 * Collects incidents (`add`, one call each, with the group index from
 * `groupOf`) and computes the result for the query they were read for.
 */
export class MttrCollector {
  private readonly splitAt: number | undefined;
  private readonly splitAutomated: boolean;
  private readonly trends: boolean;
  private readonly groups = new Map<unknown, number>();
  private readonly keys: unknown[] = [];
  /** Per group and cohort, the COUNTS. */
  private counts = new Float64Array(COUNTS.length * 2 * 64);
  /** Durations tagged group · 8 + cohort · 4 + phase. */
  private readonly durations = new Tagged();
  /** Times to resolve tagged with their week. */
  private readonly weekly = new Tagged();
  private readonly histogram = new Float64Array(BUCKETS_MS.length + 1);

  constructor(query: MttrQuery) {
    this.splitAutomated = query.split?.kind === "automated";
    this.splitAt = query.split?.kind === "at" ? query.split.at : undefined;
    this.trends = query.trends === true;
  }

  /** The index of a group value (null for none), registered on first sight. */
  groupOf(key: unknown): number {
    let index = this.groups.get(key);
    if (index === undefined) {
      index = this.keys.length;
      this.groups.set(key, index);
      this.keys.push(key);
      if ((index + 1) * COUNTS.length * 2 > this.counts.length) {
        const counts = new Float64Array(this.counts.length * 2);
        counts.set(this.counts);
        this.counts = counts;
      }
    }
    return index;
  }

  /**
   * One incident that started at `started` (never null). Milestones are
   * epoch ms or null; a phase whose milestones are missing, or whose
   * duration is negative, is left out of that phase.
   */
  add(group: number, started: number, detected: number | null, acknowledged: number | null, remediationStarted: number | null, remediated: number | null, resolved: number | null, status: number, escalated: number, attempts: number): void {
    const cohort = this.splitAutomated ? (remediated !== null ? 1 : 0) : this.splitAt !== undefined && started >= this.splitAt ? 1 : 0;
    const at = (group * 2 + cohort) * COUNTS.length;
    const counts = this.counts;
    counts[at]!++;
    if (status === STATUS.resolved) counts[at + 1]!++;
    else if (status === STATUS.open) counts[at + 2]!++;
    if (remediated !== null) counts[at + 3]!++;
    counts[at + 4]! += escalated;
    counts[at + 5]! += attempts;

    const tag = group * 8 + cohort * 4;
    const durations = this.durations;
    if (detected !== null && detected - started >= 0) durations.push(detected - started, tag);
    if (remediationStarted !== null || acknowledged !== null) {
      // Isolation ends at whichever came first; it runs from detection, or from the start when detection is unknown.
      const first = remediationStarted === null ? acknowledged! : acknowledged === null || remediationStarted < acknowledged ? remediationStarted : acknowledged;
      const ms = first - (detected ?? started);
      if (ms >= 0) durations.push(ms, tag + 1);
    }
    if (status !== STATUS.resolved || resolved === null) return;
    // Recovery starts at a rule's remediation for an automated incident, at a person's acknowledgement (else a remediation) otherwise.
    const from = remediated !== null ? remediationStarted : acknowledged ?? remediationStarted;
    if (from !== null && resolved - from >= 0) durations.push(resolved - from, tag + 2);
    const ms = resolved - started;
    if (ms < 0) return;
    durations.push(ms, tag + 3);
    if (!this.trends) return;
    this.weekly.push(ms, Math.trunc((started - MONDAY_MS) / WEEK_MS));
    let bucket = 0;
    while (bucket < BUCKETS_MS.length && ms > BUCKETS_MS[bucket]!) bucket++;
    this.histogram[bucket]!++;
  }

  /** The statistics, groups in SQL's order; with `overall`, also the same over all groups together. */
  result(options: { overall?: boolean } = {}): MttrResult {
    const order = this.keys.map((_, i) => i).sort((a, b) => sqliteOrder(this.keys[a], this.keys[b]));
    const groupCount = this.keys.length;
    // Ordered by cohort and phase, then group: one cohort's phase over all groups is one range.
    const { values, starts } = this.durations.byTag(groupCount * 8, (tag) => (tag & 7) * groupCount + (tag >> 3));
    const phases: MttrPhaseRow[] = [];
    for (const g of order) {
      for (let cp = 0; cp < 8; cp++) {
        const [from, to] = [starts[cp * groupCount + g]!, starts[cp * groupCount + g + 1]!];
        if (to > from) phases.push(this.phaseRow(this.keys[g], cp, values, from, to));
      }
    }
    const counts = order.flatMap((g) => [0, 1].flatMap((cohort) => this.countRow(this.keys[g], g, cohort)));
    const result: MttrResult = { phases, counts, weekly: this.trends ? this.weeks() : [], distribution: [] };
    if (this.trends) result.distribution = [...BUCKETS_MS, null].map((le, i) => ({ le, count: this.histogram[i]! }));
    if (options.overall) {
      const overallPhases: MttrPhaseRow[] = [];
      for (let cp = 0; cp < 8; cp++) {
        const [from, to] = [starts[cp * groupCount]!, starts[(cp + 1) * groupCount]!];
        if (to > from) overallPhases.push(this.phaseRow(null, cp, values, from, to));
      }
      const overallCounts = [0, 1].flatMap((cohort) => {
        const rows = this.keys.flatMap((_, g) => this.countRow(null, g, cohort));
        if (rows.length === 0) return [];
        const sum = rows.reduce((total, row) => { for (const key of COUNTS) total[key] += row[key]; return total; });
        return [sum];
      });
      result.overall = { phases: overallPhases, counts: overallCounts };
    }
    return result;
  }

  private phaseRow(group: unknown, cp: number, values: Float64Array, from: number, to: number): MttrPhaseRow {
    const { count, mean, min, max } = summary(values, from, to);
    const [median, p90, p99] = percentiles(values, from, to - from, [0.5, 0.9, 0.99]);
    return { group: group === null || group === undefined ? null : String(group), cohort: cp >> 2, phase: PHASES[cp & 3]!, count, mean, min, max, median: median!, p90: p90!, p99: p99! };
  }

  private countRow(group: unknown, g: number, cohort: number): MttrCountRow[] {
    const at = (g * 2 + cohort) * COUNTS.length;
    if (this.counts[at] === 0) return [];
    const row = { group: group === null || group === undefined ? null : String(group), cohort } as MttrCountRow;
    COUNTS.forEach((key, i) => (row[key] = this.counts[at + i]!));
    return [row];
  }

  private weeks(): MttrResult["weekly"] {
    if (this.weekly.length === 0) return [];
    let [first, last] = [Infinity, -Infinity];
    for (let i = 0; i < this.weekly.length; i++) {
      const week = this.weekly.tags[i]!;
      if (week < first) first = week;
      if (week > last) last = week;
    }
    const { values, starts } = this.weekly.byTag(last - first + 1, (week) => week - first);
    const out: MttrResult["weekly"] = [];
    for (let w = 0; w <= last - first; w++) {
      const [from, n] = [starts[w]!, starts[w + 1]! - starts[w]!];
      if (n === 0) continue;
      const [median, p90] = percentiles(values, from, n, [0.5, 0.9]);
      out.push({ weekStart: (first + w) * WEEK_MS + MONDAY_MS, count: n, median: median!, p90: p90! });
    }
    return out;
  }
}
