import { usageError } from "../errors.ts";
import type { AnalyticsStore, MttrCountRow, MttrPhaseRow, MttrQuery } from "../journal/index.ts";
import { parseDuration } from "../time/index.ts";
import { phases, type Cohort, type MttrReport, type Phase, type PhaseChange, type PhaseStats } from "./types.ts";

export interface MttrOptions {
  /** "30d" (back from until) or a date. Default 30d; unbounded with --compare before:. */
  since?: string;
  until?: string;
  /** service | alertname | rule | severity | label:NAME */
  by?: string;
  /** automated | before:DATE | window:30d */
  compare?: string;
  now?: number;
}

const groupColumns = ["service", "alertname", "rule", "severity"] as const;

/** A date (2026-10-01, UTC midnight) or a date and time with its offset; `what` names the option. */
export function parseDate(text: string, what: string): number {
  const trimmed = text.trim();
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(trimmed);
  const parsed = Date.parse(dateOnly ? `${trimmed}T00:00:00Z` : trimmed);
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed) || Number.isNaN(parsed)) {
    throw usageError("E_USAGE_DATE", `${what}: "${text}" is not a date`, "write a date (2026-10-01, read as UTC midnight) or a time with its offset (2026-10-01T09:00:00+02:00)");
  }
  return parsed;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

interface Plan {
  query: MttrQuery;
  labels: [string] | [string, string];
  compare?: MttrReport["compare"];
  since?: number;
  until: number;
  /** The range each cohort covers, for the report. */
  ranges: { since?: number; until?: number }[];
}

/** Turns the command's options into one SQL query and the cohorts it yields. */
export function planMttr(options: MttrOptions): Plan {
  const now = options.now ?? Date.now();
  const until = options.until ? parseDate(options.until, "--until") : now;
  const sinceFrom = (text: string) => (/^\d+(\.\d+)?(ms|s|m|h|d)+$/.test(text.trim()) ? until - parseDuration(text, "--since") : parseDate(text, "--since"));
  const query: MttrQuery = { until, trends: true };
  if (options.by) {
    const by = options.by.trim();
    if ((groupColumns as readonly string[]).includes(by)) query.groupBy = { column: by as (typeof groupColumns)[number] };
    else if (/^label:[\w.\-/]+$/.test(by)) query.groupBy = { label: by.slice("label:".length) };
    else throw usageError("E_USAGE_BY", `--by "${options.by}" is not a grouping`, "use service, alertname, rule, severity or label:NAME");
  }
  const compare = options.compare?.trim();
  let since = options.since ? sinceFrom(options.since) : undefined;
  if (!compare) {
    since ??= until - parseDuration("30d");
    return { query: { ...query, since }, labels: ["all"], since, until, ranges: [{ since, until }] };
  }
  if (compare === "automated") {
    since ??= until - parseDuration("30d");
    const range = { since, until };
    return { query: { ...query, since, split: { kind: "automated" } }, labels: ["manual", "automated"], compare: { mode: "automated", baseline: "manual", current: "automated" }, since, until, ranges: [range, range] };
  }
  if (compare.startsWith("before:")) {
    const at = parseDate(compare.slice("before:".length), "--compare before:");
    if (since !== undefined && since >= at) throw usageError("E_USAGE_COMPARE", `--since ${options.since} is not before ${day(at)}: there is nothing to compare`, "move --since earlier, or drop it to use all history");
    if (at >= until) throw usageError("E_USAGE_COMPARE", `--compare before:${day(at)} is not before --until ${day(until)}`, "compare at a date inside the range");
    const labels: [string, string] = [`before ${day(at)}`, `from ${day(at)}`];
    return {
      query: { ...query, ...(since !== undefined ? { since } : {}), split: { kind: "at", at } },
      labels,
      compare: { mode: "before", baseline: labels[0], current: labels[1] },
      ...(since !== undefined ? { since } : {}),
      until,
      ranges: [{ ...(since !== undefined ? { since } : {}), until: at }, { since: at, until }],
    };
  }
  if (compare.startsWith("window:")) {
    const width = parseDuration(compare.slice("window:".length), "--compare window:");
    if (options.since) throw usageError("E_USAGE_COMPARE", "--compare window: sets the range itself; --since does not apply", "drop --since, and move the window with --until");
    const at = until - width;
    const start = at - width;
    const labels: [string, string] = [`${day(start)} to ${day(at)}`, `${day(at)} to ${day(until)}`];
    return {
      query: { ...query, since: start, split: { kind: "at", at } },
      labels,
      compare: { mode: "window", baseline: labels[0], current: labels[1] },
      since: start,
      until,
      ranges: [{ since: start, until: at }, { since: at, until }],
    };
  }
  throw usageError("E_USAGE_COMPARE", `--compare "${options.compare}" is not a comparison`, "use automated, before:DATE (e.g. before:2026-10-01) or window:DURATION (e.g. window:30d)");
}

function phaseStats(row: MttrPhaseRow | undefined): PhaseStats {
  if (!row || row.count === 0) return { count: 0 };
  const stats: PhaseStats = { count: row.count };
  for (const key of ["mean", "median", "p90", "p99", "min", "max"] as const) if (row[key] !== null) stats[key] = row[key]!;
  return stats;
}

function cohortOf(label: string, range: { since?: number; until?: number }, counts: MttrCountRow[], rows: MttrPhaseRow[]): Cohort {
  const sum = (key: "incidents" | "resolved" | "open" | "automated" | "escalated" | "attempts") => counts.reduce((n, c) => n + (c[key] ?? 0), 0);
  const incidents = sum("incidents");
  return {
    label,
    ...range,
    incidents,
    resolved: sum("resolved"),
    open: sum("open"),
    automated: sum("automated"),
    manual: incidents - sum("automated"),
    escalated: sum("escalated"),
    attempts: sum("attempts"),
    phases: Object.fromEntries(phases.map((phase) => [phase, phaseStats(rows.find((r) => r.phase === phase))])) as Record<Phase, PhaseStats>,
  };
}

/** Relative change per phase from baseline to current; absent where either side has no value. */
export function changesBetween(baseline: Cohort, current: Cohort): Record<Phase, PhaseChange> {
  const change = (from: number | undefined, to: number | undefined) => (from !== undefined && to !== undefined && from > 0 ? (to - from) / from : undefined);
  return Object.fromEntries(
    phases.map((phase) => {
      const out: PhaseChange = {};
      for (const key of ["median", "p90", "mean"] as const) {
        const value = change(baseline.phases[phase][key], current.phases[phase][key]);
        if (value !== undefined) out[key] = value;
      }
      return [phase, out];
    }),
  ) as Record<Phase, PhaseChange>;
}

/**
 * `opskit mttr`: one query's statistics shaped into cohorts, groups and
 * changes. With no grouping, the overall cohorts are the query's rows; with
 * one, the store computes the overall rows from the same reading of the
 * incidents (percentiles do not add up from the groups').
 */
export async function computeMttr(store: AnalyticsStore, options: MttrOptions): Promise<MttrReport> {
  const plan = planMttr(options);
  const grouped = await store.mttr({ ...plan.query, overall: plan.query.groupBy !== undefined });
  const overallResult = grouped.overall ?? grouped;
  const cohortsFrom = (counts: MttrCountRow[], rows: MttrPhaseRow[]) =>
    plan.labels.map((label, i) =>
      cohortOf(
        label,
        plan.ranges[i]!,
        counts.filter((c) => c.cohort === i),
        rows.filter((r) => r.cohort === i),
      ),
    );
  const overall = cohortsFrom(overallResult.counts, overallResult.phases);
  // Each group's rows gathered in one pass (filtering the rows once per group was quadratic in the groups).
  const byGroup = new Map<string | null, { counts: MttrCountRow[]; phases: MttrPhaseRow[] }>();
  const rowsOf = (group: string | null) => byGroup.get(group) ?? byGroup.set(group, { counts: [], phases: [] }).get(group)!;
  for (const c of grouped.counts) rowsOf(c.group).counts.push(c);
  for (const r of grouped.phases) if (byGroup.has(r.group)) rowsOf(r.group).phases.push(r);
  const groupNames = [...byGroup.keys()];
  const totals = new Map(groupNames.map((g) => [g, rowsOf(g).counts.reduce((n, c) => n + c.incidents, 0)]));
  groupNames.sort((a, b) => totals.get(b)! - totals.get(a)! || String(a).localeCompare(String(b)));
  const groups = plan.query.groupBy
    ? groupNames.map((group) => {
        const cohorts = cohortsFrom(rowsOf(group).counts, rowsOf(group).phases);
        return { group: group ?? "(none)", cohorts, ...(cohorts.length === 2 ? { changes: changesBetween(cohorts[0]!, cohorts[1]!) } : {}) };
      })
    : [];
  return {
    generatedAt: new Date(options.now ?? Date.now()).toISOString(),
    range: { ...(plan.since !== undefined ? { since: new Date(plan.since).toISOString() } : {}), until: new Date(plan.until).toISOString() },
    ...(options.by ? { by: options.by.trim() } : {}),
    ...(plan.compare ? { compare: plan.compare } : {}),
    overall,
    ...(overall.length === 2 ? { changes: changesBetween(overall[0]!, overall[1]!) } : {}),
    groups,
    weekly: grouped.weekly.map((w) => ({ week: new Date(w.weekStart).toISOString().slice(0, 10), count: w.count, ...(w.median !== null ? { median: w.median } : {}), ...(w.p90 !== null ? { p90: w.p90 } : {}) })),
    distribution: grouped.distribution,
  };
}
