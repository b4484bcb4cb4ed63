import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import type { AnalyticsStore, MttrPhase, MttrPhaseRow, MttrQuery, MttrResult } from "./types.ts";

const WEEK_MS = 7 * 86_400_000;
/** 1970-01-05, the first Monday after the epoch: weeks start on Monday 00:00 UTC. */
const MONDAY_MS = 4 * 86_400_000;
/** Time-to-resolve histogram bounds: 5m, 15m, 30m, 1h, 2h, 4h, 8h, 1d, beyond. */
const BUCKETS_MS = [5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60_000);
const PERCENTILES = { median: 0.5, p90: 0.9, p99: 0.99 } as const;
/** Rank arithmetic in SQL and here must agree: p·(n−1) nudged up past float error, then floored. */
const EPSILON = 1e-9;

/**
 * The start of recovery: a rule's remediation for an automated incident,
 * a person's acknowledgement (else a remediation) for a human-handled one.
 */
const RECOVER_FROM = "CASE WHEN remediated_at IS NOT NULL THEN remediation_started_at ELSE COALESCE(acknowledged_at, remediation_started_at) END";

/**
 * One row per incident and phase, with its duration; a phase whose milestones
 * are missing is left out. Isolation runs from detection, or from the start
 * for imported history that never knew when monitoring noticed.
 */
const DURATIONS = `
  SELECT grp, cohort, 'detect' AS phase, detected_at - started_at AS ms FROM base
    WHERE detected_at IS NOT NULL
  UNION ALL
  SELECT grp, cohort, 'isolate', MIN(COALESCE(remediation_started_at, acknowledged_at), COALESCE(acknowledged_at, remediation_started_at)) - COALESCE(detected_at, started_at) FROM base
    WHERE remediation_started_at IS NOT NULL OR acknowledged_at IS NOT NULL
  UNION ALL
  SELECT grp, cohort, 'recover', resolved_at - (${RECOVER_FROM}) FROM base
    WHERE +status = 'resolved' AND resolved_at IS NOT NULL AND (remediation_started_at IS NOT NULL OR acknowledged_at IS NOT NULL)
  UNION ALL
  SELECT grp, cohort, 'resolve', resolved_at - started_at FROM base
    WHERE +status = 'resolved' AND resolved_at IS NOT NULL`;

/** For each percentile, the values at the two ranks it falls between; interpolated in `interpolate`. */
function percentileColumns(): string {
  return Object.entries(PERCENTILES)
    .map(
      ([name, p]) =>
        `MAX(CASE WHEN rn - 1 = CAST(${p} * (n - 1) + ${EPSILON} AS INTEGER) THEN ms END) AS ${name}_lo, ` +
        `MAX(CASE WHEN rn - 1 = CAST(${p} * (n - 1) + ${EPSILON} AS INTEGER) + 1 THEN ms END) AS ${name}_hi`,
    )
    .join(",\n      ");
}

/**
 * Linear interpolation between ranks (as numpy's default and Excel's
 * PERCENTILE.INC), rounded to the microsecond so float noise does not show.
 */
function interpolate(p: number, n: number, lo: number | null, hi: number | null): number | null {
  if (lo === null) return null;
  const position = Math.round(p * (n - 1) * 1e6) / 1e6;
  const fraction = position - Math.floor(position);
  if (hi === null || fraction === 0) return lo;
  return Math.round((lo + fraction * (hi - lo)) * 1000) / 1000;
}

interface Bound {
  sql: string;
  params: Record<string, string | number>;
}

function baseQuery(query: MttrQuery): Bound {
  const params: Record<string, string | number> = {};
  const where: string[] = ["started_at IS NOT NULL"];
  if (query.since !== undefined) {
    where.push("started_at >= $since");
    params.since = query.since;
  }
  if (query.until !== undefined) {
    where.push("started_at < $until");
    params.until = query.until;
  }
  let group = "NULL";
  if (query.groupBy && "column" in query.groupBy) {
    // A fixed set of column names, never text from the caller.
    group = ({ service: "service", alertname: "alertname", rule: "rule", severity: "severity" } as const)[query.groupBy.column];
  } else if (query.groupBy) {
    group = "json_extract(labels, $labelPath)";
    params.labelPath = `$."${query.groupBy.label.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  }
  let cohort = "0";
  if (query.split?.kind === "automated") cohort = "(remediated_at IS NOT NULL)";
  else if (query.split?.kind === "at") {
    cohort = "(started_at >= $splitAt)";
    params.splitAt = query.split.at;
  }
  return {
    sql: `SELECT ${group} AS grp, ${cohort} AS cohort, * FROM incidents WHERE ${where.join(" AND ")}`,
    params,
  };
}

/** A phase row as SQL returns it: the percentile ranks' values still apart (`median_lo`, `median_hi`, …). */
type PhaseAggregate = Omit<MttrPhaseRow, "group" | "median" | "p90" | "p99"> & { grp: string | null } & Record<string, unknown>;

/** Whether this SQLite has percentile_cont. */
export function supportsPercentileCont(db: Database): boolean {
  try {
    db.query("SELECT percentile_cont(1, 0.5)").get();
    return true;
  } catch {
    return false;
  }
}

const micro = (value: unknown): number | null => (typeof value === "number" ? Math.round(value * 1000) / 1000 : null);

function phaseRow(row: PhaseAggregate): MttrPhaseRow {
  return { group: row.grp === null ? null : String(row.grp), cohort: Number(row.cohort), phase: row.phase, count: row.count, mean: row.mean, min: row.min, max: row.max, median: null, p90: null, p99: null };
}

/**
 * MTTR in SQL: durations per phase from the milestone columns, ranked with
 * window functions per group, cohort and phase; only the few rows at the
 * percentile ranks come back, so the work stays in SQLite, not in a loop here.
 */
export function sqliteAnalyticsStore(db: Database, options: { percentileCont?: boolean } = {}): Synchronous<AnalyticsStore> {
  // SQLite's percentile_cont (3.47+, built with ENABLE_PERCENTILE, as Bun's
  // own SQLite is) interpolates exactly as the ranks below do and measured
  // about 3.5x faster on a million incidents; a system SQLite without it
  // (Bun on macOS uses the system's) gets the window-function ranks.
  const percentiles = options.percentileCont ?? supportsPercentileCont(db);
  return {
    mttr(query: MttrQuery): MttrResult {
      const base = baseQuery(query);
      const phases: MttrPhaseRow[] = percentiles
        ? db
            .query<PhaseAggregate, Record<string, string | number>>(
              `WITH base AS (${base.sql}), durations AS (${DURATIONS})
               SELECT grp, cohort, phase, COUNT(*) AS count, AVG(ms) AS mean, MIN(ms) AS min, MAX(ms) AS max,
                 ${Object.entries(PERCENTILES).map(([name, p]) => `percentile_cont(ms, ${p}) AS ${name}`).join(", ")}
               FROM durations WHERE ms >= 0 GROUP BY grp, cohort, phase`,
            )
            .all(base.params)
            .map((row) => ({ ...phaseRow(row), median: micro(row.median), p90: micro(row.p90), p99: micro(row.p99) }))
        : db
            .query<PhaseAggregate, Record<string, string | number>>(
              `WITH base AS (${base.sql}),
               durations AS (${DURATIONS}),
               ranked AS (
                 SELECT grp, cohort, phase, ms,
                   ROW_NUMBER() OVER (PARTITION BY grp, cohort, phase ORDER BY ms) AS rn,
                   COUNT(*) OVER (PARTITION BY grp, cohort, phase) AS n
                 FROM durations WHERE ms >= 0)
               SELECT grp, cohort, phase, MAX(n) AS count, AVG(ms) AS mean, MIN(ms) AS min, MAX(ms) AS max,
                 ${percentileColumns()}
               FROM ranked GROUP BY grp, cohort, phase`,
            )
            .all(base.params)
            .map((row) => {
              const out = phaseRow(row);
              for (const [name, p] of Object.entries(PERCENTILES) as [keyof typeof PERCENTILES, number][]) {
                out[name] = interpolate(p, row.count, row[`${name}_lo`] as number | null, row[`${name}_hi`] as number | null);
              }
              return out;
            });
      const counts = db
        .query<{ grp: string | null; cohort: number; incidents: number; resolved: number; open: number; automated: number; escalated: number; attempts: number }, Record<string, string | number>>(
          `WITH base AS (${base.sql})
           SELECT grp, cohort, COUNT(*) AS incidents, SUM(status = 'resolved') AS resolved, SUM(status = 'open') AS open,
             SUM(remediated_at IS NOT NULL) AS automated, SUM(escalated) AS escalated, SUM(attempts) AS attempts
           FROM base GROUP BY grp, cohort`,
        )
        .all(base.params)
        .map((r) => ({ group: r.grp === null ? null : String(r.grp), cohort: Number(r.cohort), incidents: r.incidents, resolved: r.resolved, open: r.open, automated: r.automated, escalated: r.escalated, attempts: r.attempts }));
      const result: MttrResult = { phases, counts, weekly: [], distribution: [] };
      if (!query.trends) return result;

      const { sql, params } = baseQuery({ ...(query.since !== undefined ? { since: query.since } : {}), ...(query.until !== undefined ? { until: query.until } : {}) });
      const resolvedByWeek = `WITH base AS (${sql}),
           resolved AS (SELECT CAST((started_at - ${MONDAY_MS}) / ${WEEK_MS} AS INTEGER) AS week, resolved_at - started_at AS ms FROM base WHERE +status = 'resolved' AND resolved_at >= started_at)`;
      result.weekly = percentiles
        ? db
            .query<{ week: number; n: number; median: number | null; p90: number | null }, Record<string, string | number>>(
              `${resolvedByWeek} SELECT week, COUNT(*) AS n, percentile_cont(ms, 0.5) AS median, percentile_cont(ms, 0.9) AS p90 FROM resolved GROUP BY week ORDER BY week`,
            )
            .all(params)
            .map((r) => ({ weekStart: r.week * WEEK_MS + MONDAY_MS, count: r.n, median: micro(r.median), p90: micro(r.p90) }))
        : db
            .query<{ week: number; n: number; median_lo: number | null; median_hi: number | null; p90_lo: number | null; p90_hi: number | null }, Record<string, string | number>>(
              `${resolvedByWeek},
               ranked AS (SELECT week, ms, ROW_NUMBER() OVER (PARTITION BY week ORDER BY ms) AS rn, COUNT(*) OVER (PARTITION BY week) AS n FROM resolved)
               SELECT week, MAX(n) AS n,
                 MAX(CASE WHEN rn - 1 = CAST(0.5 * (n - 1) + ${EPSILON} AS INTEGER) THEN ms END) AS median_lo,
                 MAX(CASE WHEN rn - 1 = CAST(0.5 * (n - 1) + ${EPSILON} AS INTEGER) + 1 THEN ms END) AS median_hi,
                 MAX(CASE WHEN rn - 1 = CAST(0.9 * (n - 1) + ${EPSILON} AS INTEGER) THEN ms END) AS p90_lo,
                 MAX(CASE WHEN rn - 1 = CAST(0.9 * (n - 1) + ${EPSILON} AS INTEGER) + 1 THEN ms END) AS p90_hi
               FROM ranked GROUP BY week ORDER BY week`,
            )
            .all(params)
            .map((r) => ({ weekStart: r.week * WEEK_MS + MONDAY_MS, count: r.n, median: interpolate(0.5, r.n, r.median_lo, r.median_hi), p90: interpolate(0.9, r.n, r.p90_lo, r.p90_hi) }));
      const bucketCase = `CASE ${BUCKETS_MS.map((le, i) => `WHEN ms <= ${le} THEN ${i}`).join(" ")} ELSE ${BUCKETS_MS.length} END`;
      const histogram = new Map(
        db
          .query<{ bucket: number; n: number }, Record<string, string | number>>(
            `WITH base AS (${sql}) SELECT ${bucketCase} AS bucket, COUNT(*) AS n FROM (SELECT resolved_at - started_at AS ms FROM base WHERE +status = 'resolved' AND resolved_at >= started_at) GROUP BY bucket`,
          )
          .all(params)
          .map((r) => [r.bucket, r.n]),
      );
      result.distribution = [...BUCKETS_MS, null].map((le, i) => ({ le, count: histogram.get(i) ?? 0 }));
      return result;
    },
  };
}
