// MTTR statistics from incident milestones, in one pass over the incidents:
// whatever the store reads them with (SQLite here, PostgreSQL later) hands
// each incident to a PhaseCollector once (mttr-phases.ts), in one thread or
// in several, and every group's, cohort's and phase's count, mean, min, max
// and percentiles, the weekly trend and the histogram come from the typed
// arrays they fill. The figures are the ones SQL computed before: AVG over
// integer milliseconds, and percentile_cont's interpolation between ranks
// (quantiles.ts).
import type { MttrCountRow, MttrPhase, MttrPhaseRow, MttrQuery, MttrResult } from "./history-types.ts";
import type { IncidentRecord } from "./types.ts";
import { COUNT_FIELDS, definePhaseCollector, STAT_FIELDS, type PhaseCollector, type PhaseData, type PhaseOptions, type WideResults, type WideWork } from "./mttr-phases.ts";
import { defineQuantiles, partsStatistics, type RangeStatistics, type ValueRange } from "./quantiles.ts";

/** Time-to-resolve histogram bounds: 5m, 15m, 30m, 1h, 2h, 4h, 8h, 1d, beyond. */
export const BUCKETS_MS: readonly number[] = [5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60_000);
const PHASES: readonly MttrPhase[] = ["detect", "isolate", "recover", "resolve"];
/** Counts kept per group and cohort, in this order (COUNT_FIELDS of them). */
const COUNTS = ["incidents", "resolved", "open", "automated", "escalated", "attempts"] as const;

/** An incident's status as the statistics read it; a reader adds REMEDIATED when a rule remediated the incident. */
export const STATUS = { other: 0, resolved: 1, open: 2 } as const;
export const REMEDIATED = 4;

const Collector = definePhaseCollector(defineQuantiles());

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

/** How a query's incidents fall into cohorts and what it keeps, for a PhaseCollector in any thread. */
export function phaseOptions(query: MttrQuery, contiguous: boolean, expected?: number): PhaseOptions {
  return {
    splitAt: query.split?.kind === "at" ? query.split.at : Infinity,
    splitAutomated: query.split?.kind === "automated",
    trends: query.trends === true,
    contiguous,
    ...(expected !== undefined ? { expected } : {}),
  };
}

/** Computes `work` over `parts` (in whichever thread). */
export function computeWide(parts: readonly PhaseData[], work: WideWork): WideResults {
  return Collector.computeWide(parts, work);
}

/** What to post to a thread that does `theirs`, and the buffers that move (sqlite-mttr-thread.ts). */
export function handOver(data: PhaseData, theirs: WideWork): { message: PhaseData; transfer: ArrayBuffer[] } {
  return Collector.handOver(data, theirs);
}

/**
 * Collects a query's incidents and computes its result. With `keys`, the
 * groups are known beforehand (group i is keys[i]) and the reader hands the
 * incidents over group after group (`phases.begin(i)` before each group's),
 * which saves a sort by group; other threads may read some of the groups
 * (`addPart`), each group wholly in one thread or, ungrouped, the one group
 * in several. Without, each incident's group comes from `groupOf`.
 */
export class MttrCollector {
  /** Where this thread's incidents go (`add`, one call each). */
  readonly phases: PhaseCollector;
  private readonly trends: boolean;
  private readonly keys: unknown[];
  private readonly groups = new Map<unknown, number>();
  private readonly parts: PhaseData[] = [];
  private own: PhaseData | undefined;
  /** With groups, the same statistics over all of them. */
  private readonly overall: boolean;
  private readonly wide = new Map<number, RangeStatistics>();
  private weekly: MttrResult["weekly"] | undefined;

  /** `expected`: how many incidents there can be at most (PhaseOptions). */
  constructor(query: MttrQuery, options: { keys?: readonly unknown[]; expected?: number } = {}) {
    this.trends = query.trends === true;
    this.overall = query.overall === true && query.groupBy !== undefined;
    this.keys = options.keys ? [...options.keys] : [];
    this.phases = new Collector(phaseOptions(query, options.keys !== undefined, options.expected));
  }

  /** The index of a group value (null for none), registered on first sight. */
  groupOf(key: unknown): number {
    let index = this.groups.get(key);
    if (index !== undefined) return index;
    index = this.keys.length;
    this.groups.set(key, index);
    this.keys.push(key);
    return index;
  }

  /** This thread has read its share; with `statistics`, each of its groups' (worth it when no other thread read any of them). */
  finishReading(options: { statistics: boolean }): void {
    this.own ??= this.phases.finish(options);
  }

  /** What another thread collected, with the same group ids. */
  addPart(part: PhaseData): void {
    this.parts.push(part);
  }

  /** Every thread's data, this one's first. */
  allParts(): PhaseData[] {
    this.finishReading({ statistics: false });
    return [this.own!, ...this.parts];
  }

  /**
   * The work over all threads' incidents together that the result needs,
   * in two shares of about the same cost: here, detection, isolation and
   * recovery; there, resolution and the weekly trend (each phase has about
   * one duration per incident, and the weekly trend, one value per incident,
   * costs about two phases: measured 25-40 ms against 15-20). Fixed
   * before the reading, so that each thread knows which of its arrays the
   * other needs.
   */
  wideWork(): { here: WideWork; there: WideWork } {
    const cps = this.overall || this.keys.length === 1 ? [0, 1, 2, 3, 4, 5, 6, 7] : [];
    return { here: { cps: cps.filter((cp) => (cp & 3) < 3), weekly: false }, there: { cps: cps.filter((cp) => (cp & 3) === 3), weekly: this.trends } };
  }

  /** Results of wide work, from any thread. */
  acceptWide(results: WideResults): void {
    for (const [cp, stats] of results.statistics) this.wide.set(cp, stats);
    if (results.weekly) this.weekly = results.weekly;
  }

  private wideStatistics(parts: PhaseData[], cp: number): RangeStatistics {
    let stats = this.wide.get(cp);
    if (!stats) this.wide.set(cp, (stats = Collector.wideStatistics(parts, cp)));
    return stats;
  }

  /** The statistics, groups in SQL's order; with groups and the query's `overall`, also the same over all groups together. */
  result(): MttrResult {
    const parts = this.allParts();
    const order = this.keys.map((_, i) => i).sort((a, b) => sqliteOrder(this.keys[a], this.keys[b]));
    const counts = new Float64Array(this.keys.length * 2 * COUNT_FIELDS);
    for (const part of parts) part.counts.forEach((n, i) => (counts[i]! += n));
    const phases: MttrPhaseRow[] = [];
    // One group: its incidents are all of them.
    const whole = (cp: number) => parts.some((part) => part.lengths[cp]! > 0);
    if (this.keys.length === 1) for (let cp = 0; cp < 8; cp++) if (whole(cp)) phases.push(row(this.keys[0], cp, this.wideStatistics(parts, cp)));
    if (this.keys.length !== 1) for (const g of order) for (let cp = 0; cp < 8; cp++) phases.push(...groupPhase(parts, this.keys[g], g, cp));
    const countRows = order.flatMap((g) => [0, 1].flatMap((cohort) => countRow(this.keys[g], counts, g, cohort)));
    const result: MttrResult = { phases, counts: countRows, weekly: [], distribution: [] };
    if (this.trends) {
      result.weekly = this.weekly ?? Collector.weekPoints(parts);
      result.distribution = [...BUCKETS_MS, null].map((le, i) => ({ le, count: parts.reduce((n, part) => n + part.histogram[i]!, 0) }));
    }
    if (this.overall) {
      const overallPhases: MttrPhaseRow[] = [];
      for (let cp = 0; cp < 8; cp++) if (whole(cp)) overallPhases.push(row(null, cp, this.wideStatistics(parts, cp)));
      const overallCounts = [0, 1].flatMap((cohort) => {
        const rows = this.keys.flatMap((_, g) => countRow(null, counts, g, cohort));
        if (rows.length === 0) return [];
        const sum = rows.reduce((total, row) => { for (const key of COUNTS) total[key] += row[key]; return total; });
        return [sum];
      });
      result.overall = { phases: overallPhases, counts: overallCounts };
    }
    return result;
  }
}

/** A group's row for one cohort and phase (none when it has no durations): computed by the thread that read all of them, or here over every thread's. */
function groupPhase(parts: PhaseData[], key: unknown, g: number, cp: number): MttrPhaseRow[] {
  const ranges: ValueRange[] = [];
  let only: PhaseData | undefined;
  for (const part of parts) {
    if (g >= part.groupCount) continue;
    const [from, to] = [part.ranges[(g * 8 + cp) * 2]!, part.ranges[(g * 8 + cp) * 2 + 1]!];
    if (to <= from) continue;
    ranges.push({ values: part.values[cp]!, from, to });
    only = part;
  }
  if (ranges.length === 0) return [];
  if (ranges.length === 1 && only!.statistics) {
    const at = (g * 8 + cp) * STAT_FIELDS;
    const s = only!.statistics;
    return [row(key, cp, { count: s[at]!, mean: s[at + 1]!, min: s[at + 2]!, max: s[at + 3]!, percentiles: [s[at + 4]!, s[at + 5]!, s[at + 6]!] })];
  }
  // Durations handed to another thread are gone from this one: a group read by two threads is a reader's bug, not a figure to compute from nothing.
  if (ranges.some((range) => range.values.length < range.to)) throw new Error("MttrCollector: a group's durations were handed over to another thread");
  const known = Collector.extent(parts.filter((part) => g < part.groupCount), () => [g * 8 + cp]);
  return [row(key, cp, partsStatistics(ranges, [0.5, 0.9, 0.99], known))];
}

function row(group: unknown, cp: number, stats: { count: number; mean: number; min: number; max: number; percentiles: number[] }): MttrPhaseRow {
  const { count, mean, min, max, percentiles } = stats;
  const [median, p90, p99] = percentiles;
  return { group: group === null || group === undefined ? null : String(group), cohort: cp >> 2, phase: PHASES[cp & 3]!, count, mean, min, max, median: median!, p90: p90!, p99: p99! };
}

function countRow(group: unknown, counts: Float64Array, g: number, cohort: number): MttrCountRow[] {
  const at = (g * 2 + cohort) * COUNT_FIELDS;
  if (counts[at] === 0) return [];
  const row = { group: group === null || group === undefined ? null : String(group), cohort } as MttrCountRow;
  COUNTS.forEach((key, i) => (row[key] = counts[at + i]!));
  return [row];
}

/**
 * One incident's phase durations in ms (absent where its milestones do not
 * give one), measured by the same collector as MTTR over many: its
 * definitions, not a copy of them.
 */
export function incidentPhases(incident: Pick<IncidentRecord, "status" | "milestones" | "escalated" | "attempts">): Partial<Record<MttrPhase, number>> {
  const m = incident.milestones;
  if (m.started === undefined) return {};
  const collector = new Collector({ splitAt: Infinity, splitAutomated: false, trends: false, contiguous: true, expected: 1 });
  collector.begin(0);
  const status = incident.status === "resolved" ? STATUS.resolved : incident.status === "open" ? STATUS.open : STATUS.other;
  const flags = status + (m.remediated !== undefined ? REMEDIATED : 0);
  collector.add(0, m.started, m.detected ?? null, m.acknowledged ?? null, m.remediation_started ?? null, flags, m.resolved ?? null, incident.escalated ? 1 : 0, incident.attempts);
  const data = collector.finish({ statistics: false });
  const out: Partial<Record<MttrPhase, number>> = {};
  PHASES.forEach((phase, cp) => {
    if (data.lengths[cp]! > 0) out[phase] = data.values[cp]![0]!;
  });
  return out;
}
