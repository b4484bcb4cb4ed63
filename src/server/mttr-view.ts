// GET /api/v1/mttr: the numbers `opskit mttr --json` prints for the same
// range, from the same code (mttr/ over the journal's analytics), with the
// week by week series the dashboard draws: each week is the same report
// over that week's part of the range.
import type { AnalyticsStore } from "../journal/index.ts";
import type { Cohort, MttrReport, Phase, PhaseStats } from "../mttr/index.ts";
import { badParameter } from "./params.ts";

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-05, the first Monday after the epoch: weeks start on Monday 00:00 UTC, as `opskit mttr` counts them. */
const MONDAY_MS = 4 * DAY_MS;
/** Weeks one answer may cover (each is a query): two years. */
const MAX_WEEKS = 106;
const DEFAULT_RANGE_MS = 30 * DAY_MS;

export interface MttrWeek {
  /** Monday 00:00 UTC, epoch ms. */
  weekStart: number;
  /** Incidents that started that week (within the range), and those of them resolved. */
  incidents: number;
  resolved: number;
  /** Median time to resolve of those resolved; absent when none was. */
  mttrMs?: number;
  p90Ms?: number;
  phases: Record<Phase, PhaseStats>;
}

export interface MttrView {
  range: { since: number; until: number };
  rule?: string;
  summary: Omit<Cohort, "label" | "phases" | "since" | "until">;
  phases: Record<Phase, PhaseStats>;
  weekly: MttrWeek[];
}

/** The cohort of `report` for the query: everything, or one rule's incidents (the rule's group of `opskit mttr --by rule`). */
function cohortOf(report: MttrReport, rule: string | undefined, empty: Cohort): Cohort {
  if (rule === undefined) return report.overall[0] ?? empty;
  return report.groups.find((g) => g.group === rule)?.cohorts[0] ?? empty;
}

export async function mttrView(store: AnalyticsStore, options: { since?: number; until?: number; rule?: string; now?: number }): Promise<MttrView> {
  const { computeMttr, phases } = await import("../mttr/index.ts");
  const until = options.until ?? options.now ?? Date.now();
  const since = options.since ?? until - DEFAULT_RANGE_MS;
  if (since >= until) throw badParameter("since", `since (${since}) must be before until (${until})`, "send since < until, both epoch milliseconds");
  const firstWeek = Math.floor((since - MONDAY_MS) / WEEK_MS) * WEEK_MS + MONDAY_MS;
  if ((until - firstWeek) / WEEK_MS > MAX_WEEKS) throw badParameter("since", `since to until covers more than ${MAX_WEEKS} weeks`, "ask for two years at most (opskit mttr reports any range)");
  const iso = (ms: number) => new Date(ms).toISOString();
  const by = options.rule !== undefined ? { by: "rule" } : {};
  const empty: Cohort = { label: "all", incidents: 0, resolved: 0, open: 0, automated: 0, manual: 0, escalated: 0, attempts: 0, phases: Object.fromEntries(phases.map((p) => [p, { count: 0 }])) as Record<Phase, PhaseStats> };
  const report = (from: number, to: number) => computeMttr(store, { since: iso(from), until: iso(to), ...by, now: to });
  const whole = cohortOf(await report(since, until), options.rule, empty);
  const weekly: MttrWeek[] = [];
  for (let week = firstWeek; week < until; week += WEEK_MS) {
    const cohort = cohortOf(await report(Math.max(week, since), Math.min(week + WEEK_MS, until)), options.rule, empty);
    if (cohort.incidents === 0) continue;
    const resolve = cohort.phases.resolve;
    weekly.push({
      weekStart: week,
      incidents: cohort.incidents,
      resolved: cohort.resolved,
      ...(resolve.median !== undefined ? { mttrMs: resolve.median } : {}),
      ...(resolve.p90 !== undefined ? { p90Ms: resolve.p90 } : {}),
      phases: cohort.phases,
    });
  }
  const { label: _label, phases: wholePhases, since: _since, until: _until, ...summary } = whole;
  return { range: { since, until }, ...(options.rule !== undefined ? { rule: options.rule } : {}), summary, phases: wholePhases, weekly };
}
