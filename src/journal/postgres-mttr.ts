import { BUCKETS_MS, sqliteOrder } from "./mttr-stats.ts";
import type { Sql, StoreOn } from "./postgres-sql.ts";
import type { AnalyticsStore, MttrCountRow, MttrPhase, MttrPhaseRow, MttrQuery, MttrResult } from "./types.ts";

const PHASES: readonly MttrPhase[] = ["detect", "isolate", "recover", "resolve"];
const WEEK_MS = 7 * 86_400_000;
/** 1970-01-05, the first Monday after the epoch: weeks start on Monday 00:00 UTC. */
const MONDAY_MS = 4 * 86_400_000;

/**
 * The incidents a query reads, one row each, with the group and cohort it
 * falls in: the group's expression is a column from a fixed list, or a
 * label whose name is bound; the cohort's split time is bound too.
 */
function base(query: MttrQuery, values: unknown[]): string {
  const where: string[] = [];
  if (query.since !== undefined) where.push(`started_at >= $${values.push(query.since)}`);
  if (query.until !== undefined) where.push(`started_at < $${values.push(query.until)}`);
  if (where.length === 0) where.push("started_at IS NOT NULL");
  let group = "NULL::text";
  if (query.groupBy && "column" in query.groupBy) group = ({ service: "service", alertname: "alertname", rule: "rule", severity: "severity" } as const)[query.groupBy.column];
  else if (query.groupBy) group = `labels ->> $${values.push(query.groupBy.label)}::text`;
  let cohort = "0";
  if (query.split?.kind === "automated") cohort = "(remediated_at IS NOT NULL)::int";
  else if (query.split?.kind === "at") cohort = `(started_at >= $${values.push(query.split.at)})::int`;
  return `SELECT ${group} AS grp, ${cohort} AS cohort, started_at AS s, detected_at AS d, acknowledged_at AS a, remediation_started_at AS r,
      remediated_at IS NOT NULL AS remediated, status = 'resolved' AS resolved, status = 'open' AS open, resolved_at AS z, escalated, attempts
    FROM incidents WHERE ${where.join(" AND ")}`;
}

/**
 * Each incident's phases (mttr-phases.ts defines them; negative durations,
 * from clocks that disagree, are left out): detection from the start;
 * isolation from detection (else the start) to the first of acknowledgement
 * and remediation; recovery of a resolved incident from a rule's
 * remediation, else a person's acknowledgement (else a remediation);
 * resolution from the start.
 */
const DURATIONS = `SELECT grp, cohort, phase, ms FROM base CROSS JOIN LATERAL (VALUES
    (0, d - s),
    (1, LEAST(r, a) - COALESCE(d, s)),
    (2, CASE WHEN resolved AND z IS NOT NULL THEN z - CASE WHEN remediated THEN r ELSE COALESCE(a, r) END END),
    (3, CASE WHEN resolved THEN z - s END)
  ) AS p (phase, ms) WHERE ms >= 0`;

/** Percentiles as the SQLite journal reports them: percentile_cont's value, rounded to the microsecond. */
const micro = (value: number): number => Math.round(value * 1000) / 1000;

interface PhaseRow {
  whole: number;
  grp: string | null;
  cohort: number;
  phase: number;
  n: number;
  total: number;
  least: number;
  greatest: number;
  pct: number[];
}

interface CountRow {
  whole: number;
  grp: string | null;
  cohort: number;
  incidents: number;
  resolved: number;
  open: number;
  automated: number;
  escalated: number;
  attempts: number;
}

/** Groups in SQLite's order (its BINARY collation: NULL first, then by code point), then cohort and phase. */
function inOrder<R extends { grp: string | null; cohort: number; phase?: number }>(rows: R[]): R[] {
  return rows.sort((x, y) => sqliteOrder(x.grp, y.grp) || x.cohort - y.cohort || (x.phase ?? 0) - (y.phase ?? 0));
}

function phaseRow(row: PhaseRow, group: string | null): MttrPhaseRow {
  const [median, p90, p99] = row.pct.map(micro);
  return { group, cohort: row.cohort, phase: PHASES[row.phase]!, count: row.n, mean: row.total / row.n, min: row.least, max: row.greatest, median: median!, p90: p90!, p99: p99! };
}

function countRow(row: CountRow, group: string | null): MttrCountRow {
  const { cohort, incidents, resolved, open, automated, escalated, attempts } = row;
  return { group, cohort, incidents, resolved, open, automated, escalated, attempts };
}

async function trends(sql: Sql, query: MttrQuery): Promise<Pick<MttrResult, "weekly" | "distribution">> {
  const values: unknown[] = [];
  const from = base({ ...(query.since !== undefined ? { since: query.since } : {}), ...(query.until !== undefined ? { until: query.until } : {}) }, values);
  const bucket = `CASE ${BUCKETS_MS.map((le, i) => `WHEN z - s <= ${le} THEN ${i}`).join(" ")} ELSE ${BUCKETS_MS.length} END`;
  // The weeks and the histogram of time to resolve from one reading: two grouping sets.
  const rows = await sql.rows<{ byWeek: number; week: number | null; bucket: number | null; n: number; pct: number[] }>(
    `WITH base AS (${from})
     SELECT GROUPING(week) AS "byWeek", week, bucket, count(*) AS n, percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY (z - s)::float8) AS pct
     FROM (SELECT s, z, (s - ${MONDAY_MS}) / ${WEEK_MS} AS week, ${bucket} AS bucket FROM base WHERE resolved AND z - s >= 0) resolved
     GROUP BY GROUPING SETS ((week), (bucket))`,
    values,
  );
  const weekly = rows
    .filter((r) => r.byWeek === 0)
    .sort((x, y) => x.week! - y.week!)
    .map((r) => ({ weekStart: r.week! * WEEK_MS + MONDAY_MS, count: r.n, median: micro(r.pct[0]!), p90: micro(r.pct[1]!) }));
  const buckets = new Map(rows.filter((r) => r.byWeek === 1).map((r) => [r.bucket!, r.n]));
  return { weekly, distribution: [...BUCKETS_MS, null].map((le, i) => ({ le, count: buckets.get(i) ?? 0 })) };
}

/**
 * MTTR on PostgreSQL, computed where the incidents are: count, mean, min,
 * max and percentile_cont per group, cohort and phase, and, with
 * `overall`, the same over all groups from the same reading (GROUPING
 * SETS). The statements read one snapshot (REPEATABLE READ). The figures
 * are the SQLite journal's to the bit: the mean is the exact sum over the
 * count, percentile_cont interpolates in the same double arithmetic as
 * quantiles.ts and is rounded as it rounds; groups come in SQLite's order.
 */
export const postgresAnalyticsStore: StoreOn<AnalyticsStore> = {
  mttr(sql, query) {
    const withOverall = query.overall === true && query.groupBy !== undefined;
    const sets = (inner: string) => (withOverall ? `GROUPING SETS ((grp, ${inner}), (${inner}))` : `grp, ${inner}`);
    return sql.atomic(async (read) => {
      const values: unknown[] = [];
      const from = base(query, values);
      const phases = await read.rows<PhaseRow>(
        `WITH base AS (${from}), durations AS (${DURATIONS})
         SELECT GROUPING(grp) AS whole, grp, cohort, phase, count(*) AS n, sum(ms) AS total, min(ms) AS least, max(ms) AS greatest,
           percentile_cont(ARRAY[0.5, 0.9, 0.99]::float8[]) WITHIN GROUP (ORDER BY ms::float8) AS pct
         FROM durations GROUP BY ${sets("cohort, phase")}`,
        values,
      );
      const counts = await read.rows<CountRow>(
        `WITH base AS (${from})
         SELECT GROUPING(grp) AS whole, grp, cohort, count(*) AS incidents, count(*) FILTER (WHERE resolved) AS resolved, count(*) FILTER (WHERE open) AS open,
           count(*) FILTER (WHERE remediated) AS automated, count(*) FILTER (WHERE escalated) AS escalated, COALESCE(sum(attempts), 0) AS attempts
         FROM base GROUP BY ${sets("cohort")}`,
        values,
      );
      const result: MttrResult = {
        phases: inOrder(phases.filter((r) => r.whole === 0)).map((r) => phaseRow(r, r.grp)),
        counts: inOrder(counts.filter((r) => r.whole === 0)).map((r) => countRow(r, r.grp)),
        weekly: [],
        distribution: [],
      };
      if (query.trends) Object.assign(result, await trends(read, query));
      if (withOverall) {
        result.overall = {
          phases: inOrder(phases.filter((r) => r.whole === 1)).map((r) => phaseRow(r, null)),
          counts: inOrder(counts.filter((r) => r.whole === 1)).map((r) => countRow(r, null)),
        };
      }
      return result;
    }, { isolation: "repeatable read" });
  },
};
