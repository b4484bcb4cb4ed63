// The per-incident half of MTTR: each incident, as a reader hands it over,
// turned at once into its phase durations, counts and trend values, kept by
// group in typed arrays; then, if asked, each group's statistics. A thread
// that read some of the incidents hands back what this collected
// (PhaseData), and mttr-stats.ts puts the parts together.
import type { MttrResult } from "./history-types.ts";
import type { KnownExtent, Quantiles, RangeStatistics, ValueRange } from "./quantiles.ts";

/** Counts kept per group and cohort, in this order (mttr-stats.ts names them). */
export const COUNT_FIELDS = 6;
/** Statistics kept per group and cohort·4 + phase, in this order: count, mean, min, max, median, p90, p99. */
export const STAT_FIELDS = 7;

export interface PhaseOptions {
  /** Incidents that started at or after this are cohort 1; Infinity: none. */
  splitAt: number;
  /** Remediated incidents are cohort 1 (instead of splitAt). */
  splitAutomated: boolean;
  /** Keep each time to resolve with its week, and the histogram. */
  trends: boolean;
  /** Incidents come group after group (`begin` before each group's): no sort by group at the end. */
  contiguous: boolean;
  /**
   * How many incidents there can be (the journal's): the arrays are made
   * that long at once, up to MAX_RESERVED (memory a typed array is not
   * written to is never touched); growing them by copies cost 30-40 ms a
   * million incidents.
   */
  expected?: number;
}

/** What a collector holds once finished; plain typed arrays, so a thread can hand it over without a copy. */
export interface PhaseData {
  /** Durations per cohort·4 + phase, each group's one range of its array. */
  values: Float64Array[];
  lengths: Int32Array;
  /** Group ids are below this. */
  groupCount: number;
  /** Per (group·8 + cohort·4 + phase)·2: where the group's range of durations starts and ends. */
  ranges: Int32Array;
  /** Per group·8 + cohort·4 + phase: the sum, the least and the greatest of its durations, kept as they came (a pass fewer for the statistics). */
  sums: Float64Array;
  mins: Float64Array;
  maxs: Float64Array;
  /** Per (group·2 + cohort)·COUNT_FIELDS: incidents, resolved, open, automated, escalated, attempts. */
  counts: Float64Array;
  /** Times to resolve, and the week each incident started in (trends). */
  resolves: Float64Array;
  weeks: Int32Array;
  resolvedCount: number;
  /** The earliest and latest of the weeks (Infinity and -Infinity when there are none). */
  firstWeek: number;
  lastWeek: number;
  histogram: Float64Array;
  /** Per (group·8 + cohort·4 + phase)·STAT_FIELDS, when asked for: the statistics of the group's own durations (a count of 0: none). */
  statistics?: Float64Array;
}

export interface PhaseCollector {
  /** The incidents that follow are the group's (contiguous collectors): no-op for the group already open; a group cannot come back. */
  begin(group: number): void;
  /** One incident: milestones are epoch ms or null; flags is the status (1 resolved, 2 open, 0 other) plus 4 when a rule remediated it. */
  add(group: number, started: number, detected: number | null, acknowledged: number | null, remediationStarted: number | null, flags: number, resolved: number | null, escalated: number, attempts: number): void;
  /** Done: the data, with each group's statistics if asked. */
  finish(options: { statistics: boolean }): PhaseData;
}

/**
 * What is computed over every thread's incidents together: the statistics
 * of whole cohorts·4 + phases (overall, or the one group's), and the weekly
 * trend. Two threads may share it.
 */
export interface WideWork {
  cps: number[];
  weekly: boolean;
}

export interface WideResults {
  statistics: [number, RangeStatistics][];
  weekly?: MttrResult["weekly"];
}

/** The collector, and what is computed over the data of every thread's collector together. */
export interface PhaseCollectorClass {
  new (options: PhaseOptions): PhaseCollector;
  /** The statistics of one cohort·4 + phase over all the parts' durations (some not empty). */
  wideStatistics(parts: readonly PhaseData[], cp: number): RangeStatistics;
  /** Median and p90 of time to resolve per week of start, over all the parts. */
  weekPoints(parts: readonly PhaseData[]): MttrResult["weekly"];
  /** The sum, least and greatest over the given slots (group·8 + cohort·4 + phase) of each part, from what the collectors kept. */
  extent(parts: readonly PhaseData[], slots: (part: PhaseData) => number[]): KnownExtent;
  /** `work` over all the parts (cohorts·4 + phases that have no durations are left out). */
  computeWide(parts: readonly PhaseData[], work: WideWork): WideResults;
  /**
   * The data to post to another thread that does `theirs` (the durations
   * and trend values it needs; the rest stays empty), and the buffers to
   * transfer: they move without a copy, and are gone from `data`.
   */
  handOver(data: PhaseData, theirs: WideWork): { message: PhaseData; transfer: ArrayBuffer[] };
}

/**
 * The collector, made by a function that refers to nothing outside itself
 * but its argument: its source (toString) is part of the MTTR reader
 * thread's code, which travels as text (sqlite-mttr-thread.ts).
 */
export function definePhaseCollector(quantiles: Quantiles): PhaseCollectorClass {
  const WEEK_MS = 7 * 86_400_000;
  /** 1970-01-05, the first Monday after the epoch: weeks start on Monday 00:00 UTC. */
  const MONDAY_MS = 4 * 86_400_000;
  /** Time-to-resolve histogram bounds (mttr-stats.ts's BUCKETS_MS). */
  const BUCKETS_MS = [5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60_000);
  const COUNTS = 6;
  const STATS = 7;
  /** Incidents the arrays are made for at most at first (PhaseOptions.expected): 4M, 32 MB an array. */
  const MAX_RESERVED = 1 << 22;
  const RESOLVED = 1;
  const OPEN = 2;

  const wider = <T extends Float64Array | Int32Array>(column: T, size: number, used: number): T => {
    const grown = new (column.constructor as new (n: number) => T)(size);
    grown.set(column.subarray(0, used));
    return grown;
  };

  return class Collector implements PhaseCollector {
    private readonly splitAt: number;
    private readonly splitAutomated: boolean;
    private readonly trends: boolean;
    private readonly contiguous: boolean;
    private capacity: number;
    /** Incidents added (each adds at most one value to each array). */
    private rows = 0;
    private values: Float64Array[];
    private lengths = new Int32Array(8);
    /** Not contiguous: each duration's group. */
    private owners: Int32Array[] | undefined;
    private resolves: Float64Array;
    private weeks: Int32Array;
    private resolvedCount = 0;
    private firstWeek = Infinity;
    private lastWeek = -Infinity;
    private histogram = new Float64Array(BUCKETS_MS.length + 1);
    private groupCapacity = 0;
    private groupCount = 0;
    private counts = new Float64Array(0);
    private ranges = new Int32Array(0);
    private sums = new Float64Array(0);
    private mins = new Float64Array(0);
    private maxs = new Float64Array(0);
    private current = -1;
    private readonly begun = new Set<number>();

    constructor(options: PhaseOptions) {
      this.splitAt = options.splitAt;
      this.splitAutomated = options.splitAutomated;
      this.trends = options.trends;
      this.contiguous = options.contiguous;
      const capacity = (this.capacity = Math.max(1 << 12, Math.min(options.expected ?? 0, MAX_RESERVED)));
      this.values = Array.from({ length: 8 }, () => new Float64Array(capacity));
      this.resolves = new Float64Array(capacity);
      this.weeks = new Int32Array(capacity);
      if (!this.contiguous) this.owners = Array.from({ length: 8 }, () => new Int32Array(capacity));
    }

    static computeWide(parts: readonly PhaseData[], work: WideWork): WideResults {
      const cps = work.cps.filter((cp) => parts.some((part) => part.lengths[cp]! > 0));
      const statistics = cps.map((cp): [number, RangeStatistics] => [cp, Collector.wideStatistics(parts, cp)]);
      return work.weekly ? { statistics, weekly: Collector.weekPoints(parts) } : { statistics };
    }

    static handOver(data: PhaseData, theirs: WideWork): { message: PhaseData; transfer: ArrayBuffer[] } {
      const transfer: ArrayBuffer[] = [];
      const give = <T extends Float64Array | Int32Array>(array: T, wanted: boolean): T => {
        if (!wanted) return new (array.constructor as new (n: number) => T)(0);
        transfer.push(array.buffer as ArrayBuffer);
        return array;
      };
      const message = {
        ...data,
        values: data.values.map((values, cp) => give(values, theirs.cps.includes(cp))),
        resolves: give(data.resolves, theirs.weekly),
        weeks: give(data.weeks, theirs.weekly),
      };
      return { message, transfer };
    }

    static wideStatistics(parts: readonly PhaseData[], cp: number): RangeStatistics {
      const ranges: ValueRange[] = [];
      for (const part of parts) if (part.lengths[cp]! > 0) ranges.push({ values: part.values[cp]!, from: 0, to: part.lengths[cp]! });
      if (ranges.some((range) => range.values.length < range.to)) throw new Error("PhaseCollector: durations handed over to another thread are gone from this one");
      return quantiles.partsStatistics(ranges, [0.5, 0.9, 0.99], Collector.extent(parts, (part) => Array.from({ length: part.groupCount }, (_, g) => g * 8 + cp)));
    }

    /** The sum, least and greatest over the given slots (group·8 + cp) of each part, from what add kept. */
    static extent(parts: readonly PhaseData[], slots: (part: PhaseData) => number[]): KnownExtent {
      const known = { sum: 0, min: Infinity, max: -Infinity };
      for (const part of parts) {
        for (const gcp of slots(part)) {
          known.sum += part.sums[gcp]!;
          if (part.mins[gcp]! < known.min) known.min = part.mins[gcp]!;
          if (part.maxs[gcp]! > known.max) known.max = part.maxs[gcp]!;
        }
      }
      return known;
    }

    static weekPoints(parts: readonly PhaseData[]): MttrResult["weekly"] {
      let [first, last, total] = [Infinity, -Infinity, 0];
      if (parts.some((part) => part.weeks.length < part.resolvedCount)) throw new Error("PhaseCollector: trend values handed over to another thread are gone from this one");
      for (const part of parts) {
        total += part.resolvedCount;
        first = Math.min(first, part.firstWeek);
        last = Math.max(last, part.lastWeek);
      }
      if (total === 0) return [];
      // The values week after week (a counting sort), then each week's percentiles.
      const span = last - first + 1;
      const starts = new Int32Array(span + 1);
      for (const { weeks, resolvedCount } of parts) for (let i = 0; i < resolvedCount; i++) starts[weeks[i]! - first + 1]!++;
      for (let w = 0; w < span; w++) starts[w + 1]! += starts[w]!;
      const next = starts.slice(0, span);
      const values = new Float64Array(total);
      // Each week's least and greatest come with the scatter (a pass fewer for its percentiles).
      const mins = new Float64Array(span).fill(Infinity);
      const maxs = new Float64Array(span).fill(-Infinity);
      for (const { weeks, resolves, resolvedCount } of parts) {
        for (let i = 0; i < resolvedCount; i++) {
          const w = weeks[i]! - first;
          const v = resolves[i]!;
          values[next[w]!++] = v;
          if (v < mins[w]!) mins[w] = v;
          if (v > maxs[w]!) maxs[w] = v;
        }
      }
      const out: MttrResult["weekly"] = [];
      for (let w = 0; w < span; w++) {
        const [from, to] = [starts[w]!, starts[w + 1]!];
        if (to === from) continue;
        // Only the percentiles are read: the sum (and so the mean) is left out.
        const [median, p90] = quantiles.partsStatistics([{ values, from, to }], [0.5, 0.9], { sum: 0, min: mins[w]!, max: maxs[w]! }).percentiles;
        out.push({ weekStart: (first + w) * WEEK_MS + MONDAY_MS, count: to - from, median: median!, p90: p90! });
      }
      return out;
    }

    begin(group: number): void {
      if (group === this.current) return;
      if (this.begun.has(group)) throw new Error("PhaseCollector: a contiguous reader went back to an earlier group");
      this.close();
      this.begun.add(group);
      this.ensureGroup(group);
      this.current = group;
      for (let cp = 0; cp < 8; cp++) this.ranges[(group * 8 + cp) * 2] = this.lengths[cp]!;
    }

    add(group: number, s: number, d: number | null, a: number | null, r: number | null, flags: number, z: number | null, escalated: number, attempts: number): void {
      if (this.rows === this.capacity) this.grow();
      this.rows++;
      if (group >= this.groupCount) this.ensureGroup(group);
      const remediated = (flags & 4) !== 0;
      const status = flags & 3;
      const cohort = this.splitAutomated ? (remediated ? 1 : 0) : s >= this.splitAt ? 1 : 0;
      const counts = this.counts;
      const at = (group * 2 + cohort) * COUNTS;
      counts[at]!++;
      if (status === RESOLVED) counts[at + 1]!++;
      else if (status === OPEN) counts[at + 2]!++;
      if (remediated) counts[at + 3]!++;
      counts[at + 4]! += escalated;
      counts[at + 5]! += attempts;
      const cp = cohort * 4;
      if (d !== null && d - s >= 0) this.push(cp, group, d - s);
      // Isolation ends at whichever came first; it runs from detection, or from the start when detection is unknown.
      const end = r === null ? a : a === null || r < a ? r : a;
      if (end !== null && end - (d === null ? s : d) >= 0) this.push(cp + 1, group, end - (d === null ? s : d));
      if (status !== RESOLVED || z === null) return;
      // Recovery starts at a rule's remediation for an automated incident, at a person's acknowledgement (else a remediation) otherwise.
      const from = remediated ? r : a !== null ? a : r;
      if (from !== null && z - from >= 0) this.push(cp + 2, group, z - from);
      const resolve = z - s;
      if (!(resolve >= 0)) return;
      this.push(cp + 3, group, resolve);
      if (!this.trends) return;
      this.resolves[this.resolvedCount] = resolve;
      const week = Math.trunc((s - MONDAY_MS) / WEEK_MS);
      this.weeks[this.resolvedCount++] = week;
      if (week < this.firstWeek) this.firstWeek = week;
      if (week > this.lastWeek) this.lastWeek = week;
      let bucket = 0;
      while (bucket < BUCKETS_MS.length && resolve > BUCKETS_MS[bucket]!) bucket++;
      this.histogram[bucket]!++;
    }

    finish(options: { statistics: boolean }): PhaseData {
      this.close();
      this.current = -1;
      if (this.owners) this.sortByGroup(this.owners);
      const data: PhaseData = {
        values: this.values,
        lengths: this.lengths,
        groupCount: this.groupCount,
        ranges: this.ranges.slice(0, this.groupCount * 16),
        sums: this.sums.slice(0, this.groupCount * 8),
        mins: this.mins.slice(0, this.groupCount * 8),
        maxs: this.maxs.slice(0, this.groupCount * 8),
        counts: this.counts.slice(0, this.groupCount * 2 * COUNTS),
        resolves: this.resolves,
        weeks: this.weeks,
        resolvedCount: this.resolvedCount,
        firstWeek: this.firstWeek,
        lastWeek: this.lastWeek,
        histogram: this.histogram,
      };
      if (options.statistics) data.statistics = this.statistics(data);
      return data;
    }

    private push(cp: number, group: number, value: number): void {
      const at = this.lengths[cp]!++;
      this.values[cp]![at] = value;
      if (this.owners) this.owners[cp]![at] = group;
      const gcp = group * 8 + cp;
      this.sums[gcp]! += value;
      if (value < this.mins[gcp]!) this.mins[gcp] = value;
      if (value > this.maxs[gcp]!) this.maxs[gcp] = value;
    }

    /** The open group's ranges end where the values are now. */
    private close(): void {
      if (this.current < 0) return;
      for (let cp = 0; cp < 8; cp++) this.ranges[(this.current * 8 + cp) * 2 + 1] = this.lengths[cp]!;
    }

    private grow(): void {
      const size = this.capacity * 2;
      for (let cp = 0; cp < 8; cp++) {
        this.values[cp] = wider(this.values[cp]!, size, this.lengths[cp]!);
        if (this.owners) this.owners[cp] = wider(this.owners[cp]!, size, this.lengths[cp]!);
      }
      this.resolves = wider(this.resolves, size, this.resolvedCount);
      this.weeks = wider(this.weeks, size, this.resolvedCount);
      this.capacity = size;
    }

    private ensureGroup(group: number): void {
      this.groupCount = Math.max(this.groupCount, group + 1);
      if (group < this.groupCapacity) return;
      const size = Math.max(16, this.groupCapacity * 2, group + 1);
      this.counts = wider(this.counts, size * 2 * COUNTS, this.counts.length);
      this.ranges = wider(this.ranges, size * 16, this.ranges.length);
      this.sums = wider(this.sums, size * 8, this.sums.length);
      this.mins = wider(this.mins, size * 8, this.mins.length).fill(Infinity, this.mins.length);
      this.maxs = wider(this.maxs, size * 8, this.maxs.length).fill(-Infinity, this.maxs.length);
      this.groupCapacity = size;
    }

    /** Each array's durations reordered group after group (stable: a group's keep their reading order), and the groups' ranges. */
    private sortByGroup(owners: Int32Array[]): void {
      const groups = this.groupCount;
      for (let cp = 0; cp < 8; cp++) {
        const [values, owner, n] = [this.values[cp]!, owners[cp]!, this.lengths[cp]!];
        const next = new Int32Array(groups + 1);
        for (let i = 0; i < n; i++) next[owner[i]! + 1]!++;
        for (let g = 0; g < groups; g++) next[g + 1]! += next[g]!;
        for (let g = 0; g < groups; g++) {
          this.ranges[(g * 8 + cp) * 2] = next[g]!;
          this.ranges[(g * 8 + cp) * 2 + 1] = next[g + 1]!;
        }
        const sorted = new Float64Array(n);
        for (let i = 0; i < n; i++) sorted[next[owner[i]!]!++] = values[i]!;
        this.values[cp] = sorted;
      }
    }

    private statistics(data: PhaseData): Float64Array {
      const out = new Float64Array(data.groupCount * 8 * STATS);
      for (let gcp = 0; gcp < data.groupCount * 8; gcp++) {
        const [from, to] = [data.ranges[gcp * 2]!, data.ranges[gcp * 2 + 1]!];
        if (to <= from) continue;
        const known = { sum: data.sums[gcp]!, min: data.mins[gcp]!, max: data.maxs[gcp]! };
        const { count, mean, min, max, percentiles } = quantiles.partsStatistics([{ values: data.values[gcp & 7]!, from, to }], [0.5, 0.9, 0.99], known);
        out.set([count, mean, min, max, percentiles[0]!, percentiles[1]!, percentiles[2]!], gcp * STATS);
      }
      return out;
    }
  };
}
