// MTTR statistics from incident milestones, in one pass over the incidents:
// whatever the store reads them with (SQLite here, PostgreSQL later) hands
// each incident to an MttrCollector once, and every group's, cohort's and
// phase's count, mean, min, max and percentiles, the weekly trend and the
// histogram come from the typed arrays it fills. The figures are the ones
// SQL computed before: AVG over integer milliseconds, and percentile_cont's
// interpolation between ranks (quantiles.ts).
import type { MttrCountRow, MttrPhase, MttrPhaseRow, MttrQuery, MttrResult } from "./history-types.ts";
import { rangeStatistics } from "./quantiles.ts";

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

/** Incidents as columns, one slot per incident in each; NaN stands for a missing milestone. */
export interface IncidentColumns {
  length: number;
  started: Float64Array;
  detected: Float64Array;
  acknowledged: Float64Array;
  remediationStarted: Float64Array;
  resolved: Float64Array;
  escalated: Float64Array;
  attempts: Float64Array;
  /** The status (STATUS), plus 4 when a rule remediated the incident. */
  flags: Int32Array;
}

/** The incidents as handed over. */
class Incidents implements IncidentColumns {
  length = 0;
  started = new Float64Array(1 << 12);
  detected = new Float64Array(1 << 12);
  acknowledged = new Float64Array(1 << 12);
  remediationStarted = new Float64Array(1 << 12);
  resolved = new Float64Array(1 << 12);
  escalated = new Float64Array(1 << 12);
  attempts = new Float64Array(1 << 12);
  flags = new Int32Array(1 << 12);
  /** Each incident's group, unless the reader hands them over group after group. */
  groups: Int32Array | undefined;

  constructor(grouped: boolean) {
    if (grouped) this.groups = new Int32Array(1 << 12);
  }

  grow(): void {
    const size = this.started.length * 2;
    const wider = <T extends Float64Array | Int32Array>(column: T): T => {
      const grown = new (column.constructor as new (n: number) => T)(size);
      grown.set(column);
      return grown;
    };
    this.started = wider(this.started);
    this.detected = wider(this.detected);
    this.acknowledged = wider(this.acknowledged);
    this.remediationStarted = wider(this.remediationStarted);
    this.resolved = wider(this.resolved);
    this.escalated = wider(this.escalated);
    this.attempts = wider(this.attempts);
    this.flags = wider(this.flags);
    if (this.groups) this.groups = wider(this.groups);
  }
}

/** Every cohort's phase (cohort · 4 + phase) as one array of durations, each group's durations one range of it. */
interface Durations {
  values: Float64Array[];
  lengths: Int32Array;
  /** Per group · 8 + cohort · 4 + phase: where its range starts and ends. */
  ranges: Int32Array;
  counts: Float64Array;
  /** Times to resolve and the week each incident started in. */
  weekly: { values: Float64Array; weeks: Int32Array; length: number };
  histogram: Float64Array;
}

/**
 * Collects incidents (`add`, one call each, with the group index from
 * `groupOf`) and computes the result for the query they were read for. A
 * reader that hands over the incidents group after group (`contiguous`,
 * each group registered just before its incidents) saves the sort by group.
 * `add` only stores the milestones: the phases are computed in one loop
 * over the columns when the result is asked for.
 */
export class MttrCollector {
  private readonly splitAt: number | undefined;
  private readonly splitAutomated: boolean;
  private readonly trends: boolean;
  private readonly contiguous: boolean;
  private readonly groups = new Map<unknown, number>();
  private readonly keys: unknown[] = [];
  /** Contiguous: how many incidents had been handed over when each group was registered. */
  private readonly firstRows: number[] = [];
  private readonly rows: Incidents;

  constructor(query: MttrQuery, options: { contiguous?: boolean } = {}) {
    this.splitAutomated = query.split?.kind === "automated";
    this.splitAt = query.split?.kind === "at" ? query.split.at : undefined;
    this.trends = query.trends === true;
    this.contiguous = options.contiguous === true;
    this.rows = new Incidents(!this.contiguous);
  }

  /** The index of a group value (null for none), registered on first sight. */
  groupOf(key: unknown): number {
    let index = this.groups.get(key);
    if (index !== undefined) return index;
    index = this.keys.length;
    this.groups.set(key, index);
    this.keys.push(key);
    this.firstRows.push(this.rows.length);
    return index;
  }

  /** One incident that started at `started` (never null); milestones are epoch ms or null. */
  add(group: number, started: number, detected: number | null, acknowledged: number | null, remediationStarted: number | null, remediated: number | null, resolved: number | null, status: number, escalated: number, attempts: number): void {
    const rows = this.rows;
    if (rows.length === rows.started.length) rows.grow();
    const i = rows.length++;
    rows.started[i] = started;
    rows.detected[i] = detected ?? NaN;
    rows.acknowledged[i] = acknowledged ?? NaN;
    rows.remediationStarted[i] = remediationStarted ?? NaN;
    rows.resolved[i] = resolved ?? NaN;
    rows.escalated[i] = escalated;
    rows.attempts[i] = attempts;
    rows.flags[i] = remediated === null ? status : status | 4;
    if (rows.groups) rows.groups[i] = group;
    else if (group !== this.keys.length - 1) throw new Error("MttrCollector: a contiguous reader went back to an earlier group");
  }

  /**
   * Incidents read elsewhere (another thread), already in columns: those
   * from `from` to `to`, all of the group last registered.
   */
  addColumns(group: number, columns: IncidentColumns, from: number, to: number): void {
    if (this.rows.groups || group !== this.keys.length - 1) throw new Error("MttrCollector: columns are added to the group registered last, on a contiguous collector");
    const rows = this.rows;
    while (rows.length + (to - from) > rows.started.length) rows.grow();
    for (const name of ["started", "detected", "acknowledged", "remediationStarted", "resolved", "escalated", "attempts", "flags"] as const) {
      (rows[name] as Float64Array | Int32Array).set(columns[name].subarray(from, to), rows.length);
    }
    rows.length += to - from;
  }

  /** The incidents' indexes group after group, and where each group's start. */
  private rowsByGroup(): { order: Int32Array | undefined; firsts: Int32Array } {
    const groupCount = this.keys.length;
    const firsts = new Int32Array(groupCount + 1);
    const groups = this.rows.groups;
    if (!groups) {
      firsts.set(this.firstRows);
      firsts[groupCount] = this.rows.length;
      return { order: undefined, firsts };
    }
    for (let i = 0; i < this.rows.length; i++) firsts[groups[i]! + 1]!++;
    for (let g = 0; g < groupCount; g++) firsts[g + 1]! += firsts[g]!;
    const next = firsts.slice(0, groupCount);
    const order = new Int32Array(this.rows.length);
    for (let i = 0; i < this.rows.length; i++) order[next[groups[i]!]!++] = i;
    return { order, firsts };
  }

  /**
   * Each incident's cohort, counts and phase durations, group after group.
   * A phase whose milestones are missing, or whose duration is negative, is
   * left out of that phase.
   */
  private durations(): Durations {
    const { order, firsts } = this.rowsByGroup();
    const rows = this.rows;
    const n = rows.length;
    const groupCount = this.keys.length;
    const { started, detected, acknowledged, remediationStarted, resolved, flags, escalated, attempts } = rows;
    // Each holds at most one duration per incident; pages never written are never touched.
    const values = Array.from({ length: 8 }, () => new Float64Array(n));
    const lengths = new Int32Array(8);
    const ranges = new Int32Array(groupCount * 16);
    const counts = new Float64Array(groupCount * 2 * COUNTS.length);
    const weekly = { values: new Float64Array(this.trends ? n : 0), weeks: new Int32Array(this.trends ? n : 0), length: 0 };
    const histogram = new Float64Array(BUCKETS_MS.length + 1);
    const splitAt = this.splitAt ?? Infinity;
    const splitAutomated = this.splitAutomated;
    const trends = this.trends;
    for (let g = 0; g < groupCount; g++) {
      for (let cp = 0; cp < 8; cp++) ranges[(g * 8 + cp) * 2] = lengths[cp]!;
      for (let k = firsts[g]!; k < firsts[g + 1]!; k++) {
        const i = order ? order[k]! : k;
        const s = started[i]!;
        const d = detected[i]!;
        const a = acknowledged[i]!;
        const r = remediationStarted[i]!;
        const f = flags[i]!;
        const remediated = (f & 4) !== 0;
        const cohort = splitAutomated ? (remediated ? 1 : 0) : s >= splitAt ? 1 : 0;
        const at = (g * 2 + cohort) * COUNTS.length;
        counts[at]!++;
        if ((f & 3) === STATUS.resolved) counts[at + 1]!++;
        else if ((f & 3) === STATUS.open) counts[at + 2]!++;
        if (remediated) counts[at + 3]!++;
        counts[at + 4]! += escalated[i]!;
        counts[at + 5]! += attempts[i]!;
        const cp = cohort * 4;
        // Comparisons with NaN (a missing milestone) are false: the phase is left out.
        if (d - s >= 0) values[cp]![lengths[cp]!++] = d - s;
        // Isolation ends at whichever came first; it runs from detection, or from the start when detection is unknown.
        const isolate = (r !== r ? a : a !== a || r < a ? r : a) - (d === d ? d : s);
        if (isolate >= 0) values[cp + 1]![lengths[cp + 1]!++] = isolate;
        if ((f & 3) !== STATUS.resolved) continue;
        // Recovery starts at a rule's remediation for an automated incident, at a person's acknowledgement (else a remediation) otherwise.
        const z = resolved[i]!;
        const recover = z - (remediated ? r : a === a ? a : r);
        if (recover >= 0) values[cp + 2]![lengths[cp + 2]!++] = recover;
        const resolve = z - s;
        if (!(resolve >= 0)) continue;
        values[cp + 3]![lengths[cp + 3]!++] = resolve;
        if (!trends) continue;
        weekly.values[weekly.length] = resolve;
        weekly.weeks[weekly.length++] = Math.trunc((s - MONDAY_MS) / WEEK_MS);
        let bucket = 0;
        while (bucket < BUCKETS_MS.length && resolve > BUCKETS_MS[bucket]!) bucket++;
        histogram[bucket]!++;
      }
      for (let cp = 0; cp < 8; cp++) ranges[(g * 8 + cp) * 2 + 1] = lengths[cp]!;
    }
    return { values, lengths, ranges, counts, weekly, histogram };
  }

  /** The statistics, groups in SQL's order; with `overall`, also the same over all groups together. */
  result(options: { overall?: boolean } = {}): MttrResult {
    const order = this.keys.map((_, i) => i).sort((a, b) => sqliteOrder(this.keys[a], this.keys[b]));
    const all = this.durations();
    const phases: MttrPhaseRow[] = [];
    for (const g of order) {
      for (let cp = 0; cp < 8; cp++) {
        const [from, to] = [all.ranges[(g * 8 + cp) * 2]!, all.ranges[(g * 8 + cp) * 2 + 1]!];
        if (to > from) phases.push(phaseRow(this.keys[g], cp, all.values[cp]!, from, to));
      }
    }
    const counts = order.flatMap((g) => [0, 1].flatMap((cohort) => countRow(this.keys[g], all.counts, g, cohort)));
    const result: MttrResult = { phases, counts, weekly: [], distribution: [] };
    if (this.trends) {
      result.weekly = weekPoints(all.weekly);
      result.distribution = [...BUCKETS_MS, null].map((le, i) => ({ le, count: all.histogram[i]! }));
    }
    if (options.overall) {
      const overallPhases = all.values.flatMap((values, cp) => (all.lengths[cp]! > 0 ? [phaseRow(null, cp, values, 0, all.lengths[cp]!)] : []));
      const overallCounts = [0, 1].flatMap((cohort) => {
        const rows = this.keys.flatMap((_, g) => countRow(null, all.counts, g, cohort));
        if (rows.length === 0) return [];
        const sum = rows.reduce((total, row) => { for (const key of COUNTS) total[key] += row[key]; return total; });
        return [sum];
      });
      result.overall = { phases: overallPhases, counts: overallCounts };
    }
    return result;
  }
}

function phaseRow(group: unknown, cp: number, values: Float64Array, from: number, to: number): MttrPhaseRow {
  const { count, mean, min, max, percentiles } = rangeStatistics(values, from, to, [0.5, 0.9, 0.99]);
  const [median, p90, p99] = percentiles;
  return { group: group === null || group === undefined ? null : String(group), cohort: cp >> 2, phase: PHASES[cp & 3]!, count, mean, min, max, median: median!, p90: p90!, p99: p99! };
}

function countRow(group: unknown, counts: Float64Array, g: number, cohort: number): MttrCountRow[] {
  const at = (g * 2 + cohort) * COUNTS.length;
  if (counts[at] === 0) return [];
  const row = { group: group === null || group === undefined ? null : String(group), cohort } as MttrCountRow;
  COUNTS.forEach((key, i) => (row[key] = counts[at + i]!));
  return [row];
}

/** Median and p90 of time to resolve per week of start. */
function weekPoints(weekly: Durations["weekly"]): MttrResult["weekly"] {
  if (weekly.length === 0) return [];
  let [first, last] = [Infinity, -Infinity];
  for (let i = 0; i < weekly.length; i++) {
    const week = weekly.weeks[i]!;
    if (week < first) first = week;
    if (week > last) last = week;
  }
  const span = last - first + 1;
  const starts = new Int32Array(span + 1);
  for (let i = 0; i < weekly.length; i++) starts[weekly.weeks[i]! - first + 1]!++;
  for (let w = 0; w < span; w++) starts[w + 1]! += starts[w]!;
  const next = starts.slice(0, span);
  const values = new Float64Array(weekly.length);
  for (let i = 0; i < weekly.length; i++) values[next[weekly.weeks[i]! - first]!++] = weekly.values[i]!;
  const out: MttrResult["weekly"] = [];
  for (let w = 0; w < span; w++) {
    const [from, to] = [starts[w]!, starts[w + 1]!];
    if (to === from) continue;
    const [median, p90] = rangeStatistics(values, from, to, [0.5, 0.9]).percentiles;
    out.push({ weekStart: (first + w) * WEEK_MS + MONDAY_MS, count: to - from, median: median!, p90: p90! });
  }
  return out;
}
