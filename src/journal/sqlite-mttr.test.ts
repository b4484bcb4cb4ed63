import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rangeStatistics } from "./quantiles.ts";
import { migrateHistory } from "./sqlite-history.ts";
import { incidentSchema } from "./sqlite-incidents.ts";
import { sqliteAnalyticsStore } from "./sqlite-mttr.ts";
import { startSecondReader } from "./sqlite-mttr-thread.ts";
import { MttrCollector, phaseOptions, sqliteOrder } from "./mttr-stats.ts";
import type { MttrQuery, MttrResult } from "./types.ts";

// The oracle: MTTR as SQL computed it before the one-pass collector, with
// SQLite's own percentile_cont per group, cohort and phase. The collector
// must give the same rows, in the same order, to the last bit.

const WEEK_MS = 7 * 86_400_000;
const MONDAY_MS = 4 * 86_400_000;
const BUCKETS_MS = [5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60_000);
const RECOVER_FROM = "CASE WHEN remediated_at IS NOT NULL THEN remediation_started_at ELSE COALESCE(acknowledged_at, remediation_started_at) END";
const DURATIONS = `
  SELECT grp, cohort, 'detect' AS phase, detected_at - started_at AS ms FROM base WHERE detected_at IS NOT NULL
  UNION ALL
  SELECT grp, cohort, 'isolate', MIN(COALESCE(remediation_started_at, acknowledged_at), COALESCE(acknowledged_at, remediation_started_at)) - COALESCE(detected_at, started_at) FROM base
    WHERE remediation_started_at IS NOT NULL OR acknowledged_at IS NOT NULL
  UNION ALL
  SELECT grp, cohort, 'recover', resolved_at - (${RECOVER_FROM}) FROM base
    WHERE status = 'resolved' AND resolved_at IS NOT NULL AND (remediation_started_at IS NOT NULL OR acknowledged_at IS NOT NULL)
  UNION ALL
  SELECT grp, cohort, 'resolve', resolved_at - started_at FROM base WHERE status = 'resolved' AND resolved_at IS NOT NULL`;

const micro = (value: unknown): number | null => (typeof value === "number" ? Math.round(value * 1000) / 1000 : null);

function baseQuery(query: MttrQuery): { sql: string; params: Record<string, string | number> } {
  const params: Record<string, string | number> = {};
  const where = ["started_at IS NOT NULL"];
  if (query.since !== undefined) (where.push("started_at >= $since"), (params.since = query.since));
  if (query.until !== undefined) (where.push("started_at < $until"), (params.until = query.until));
  let group = "NULL";
  if (query.groupBy && "column" in query.groupBy) group = query.groupBy.column;
  else if (query.groupBy) (group = "json_extract(labels, $labelPath)"), (params.labelPath = `$."${query.groupBy.label}"`);
  let cohort = "0";
  if (query.split?.kind === "automated") cohort = "(remediated_at IS NOT NULL)";
  else if (query.split?.kind === "at") (cohort = "(started_at >= $splitAt)"), (params.splitAt = query.split.at);
  return { sql: `SELECT ${group} AS grp, ${cohort} AS cohort, * FROM incidents WHERE ${where.join(" AND ")}`, params };
}

function oracle(db: Database, query: MttrQuery): MttrResult {
  const { sql, params } = baseQuery(query);
  const group = (g: unknown) => (g === null ? null : String(g));
  const phases = db
    .query<Record<string, number | string | null>, Record<string, string | number>>(
      `WITH base AS (${sql}), durations AS (${DURATIONS})
       SELECT grp, cohort, phase, COUNT(*) AS count, AVG(ms) AS mean, MIN(ms) AS min, MAX(ms) AS max,
         percentile_cont(ms, 0.5) AS median, percentile_cont(ms, 0.9) AS p90, percentile_cont(ms, 0.99) AS p99
       FROM durations WHERE ms >= 0 GROUP BY grp, cohort, phase`,
    )
    .all(params)
    .map((r) => ({ group: group(r.grp), cohort: Number(r.cohort), phase: r.phase, count: r.count, mean: r.mean, min: r.min, max: r.max, median: micro(r.median), p90: micro(r.p90), p99: micro(r.p99) })) as MttrResult["phases"];
  const counts = db
    .query<Record<string, number | string | null>, Record<string, string | number>>(
      `WITH base AS (${sql}) SELECT grp, cohort, COUNT(*) AS incidents, SUM(status = 'resolved') AS resolved, SUM(status = 'open') AS open,
         SUM(remediated_at IS NOT NULL) AS automated, SUM(escalated) AS escalated, SUM(attempts) AS attempts FROM base GROUP BY grp, cohort`,
    )
    .all(params)
    .map((r) => ({ ...r, group: group(r.grp), cohort: Number(r.cohort), grp: undefined })) as unknown as MttrResult["counts"];
  for (const row of counts) delete (row as { grp?: unknown }).grp;
  const result: MttrResult = { phases, counts, weekly: [], distribution: [] };
  if (!query.trends) return result;
  const plain = baseQuery({ since: query.since, until: query.until });
  const resolved = `WITH base AS (${plain.sql}), resolved AS (SELECT CAST((started_at - ${MONDAY_MS}) / ${WEEK_MS} AS INTEGER) AS week, resolved_at - started_at AS ms FROM base WHERE status = 'resolved' AND resolved_at >= started_at)`;
  result.weekly = db
    .query<{ week: number; n: number; median: number; p90: number }, Record<string, string | number>>(`${resolved} SELECT week, COUNT(*) AS n, percentile_cont(ms, 0.5) AS median, percentile_cont(ms, 0.9) AS p90 FROM resolved GROUP BY week ORDER BY week`)
    .all(plain.params)
    .map((r) => ({ weekStart: r.week * WEEK_MS + MONDAY_MS, count: r.n, median: micro(r.median), p90: micro(r.p90) }));
  const bucket = `CASE ${BUCKETS_MS.map((le, i) => `WHEN ms <= ${le} THEN ${i}`).join(" ")} ELSE ${BUCKETS_MS.length} END`;
  const histogram = new Map(
    db.query<{ b: number; n: number }, Record<string, string | number>>(`${resolved} SELECT ${bucket} AS b, COUNT(*) AS n FROM resolved GROUP BY b`).all(plain.params).map((r) => [r.b, r.n]),
  );
  result.distribution = [...BUCKETS_MS, null].map((le, i) => ({ le, count: histogram.get(i) ?? 0 }));
  return result;
}

const dir = mkdtempSync(join(tmpdir(), "opskit-mttr-oracle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function journalDb(name: string): Database {
  const db = new Database(join(dir, `${name}.db`), { create: true, strict: true });
  db.exec(incidentSchema);
  migrateHistory(db);
  return db;
}

const T0 = Date.parse("2026-01-05T00:00:00Z");
const MIN = 60_000;
/** Offsets in ms from the start: none, zero, negative ones (clocks disagree), odd milliseconds, days. */
const offset = fc.option(fc.oneof(fc.constant(0), fc.integer({ min: -90_000, max: 90_000 }), fc.integer({ min: 0, max: 200_000_000 })), { nil: null });
const incidentArb = fc.record({
  service: fc.constantFrom(null, "", "api", "db", "é-svc", "\u{1D11E}", "\uFB00", "Api"),
  severity: fc.constantFrom(null, "critical", "warning"),
  team: fc.constantFrom(undefined, "core", "edge", "7"),
  started: fc.integer({ min: -40 * 24 * 60, max: 120 * 24 * 60 }).map((minutes) => minutes * MIN),
  detected: offset,
  acknowledged: offset,
  remediationStarted: offset,
  remediated: offset,
  resolved: offset,
  status: fc.constantFrom("open", "resolved", "resolved", "escalated"),
  escalated: fc.integer({ min: 0, max: 1 }),
  attempts: fc.integer({ min: 0, max: 3 }),
});
type Incident = Omit<typeof incidentArb extends fc.Arbitrary<infer T> ? T : never, "service" | "status"> & { service: string | null; status: string };

function insert(db: Database, incidents: Incident[]): void {
  db.exec("DELETE FROM incidents");
  const add = db.prepare(`INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, service, severity, alertname, started_at, detected_at, acknowledged_at,
    remediation_started_at, remediated_at, resolved_at, escalated, attempts, last_notified_at) VALUES (?, ?, 't', 'test', ?, '{}', ?, ?, 'A', ?, ?, ?, ?, ?, ?, ?, ?, 0)`);
  const at = (start: number, ms: number | null) => (ms === null ? null : start + ms);
  db.transaction(() => {
    incidents.forEach((i, n) => {
      const start = T0 + i.started;
      const labels = JSON.stringify(i.team === undefined ? {} : { team: i.team === "7" ? 7 : i.team });
      add.run(`fp-${n}`, i.status, labels, i.service, i.severity, start, at(start, i.detected), at(start, i.acknowledged), at(start, i.remediationStarted), at(start, i.remediated), at(start, i.resolved), i.escalated, i.attempts);
    });
  })();
}

const queryArb = fc.record({
  since: fc.option(fc.integer({ min: -50, max: 100 }), { nil: undefined }),
  days: fc.option(fc.integer({ min: 1, max: 150 }), { nil: undefined }),
  split: fc.constantFrom(undefined, "automated", "at"),
  splitDay: fc.integer({ min: -20, max: 100 }),
  groupBy: fc.constantFrom(undefined, "service", "severity", "team"),
  trends: fc.boolean(),
});

function queryOf(q: typeof queryArb extends fc.Arbitrary<infer T> ? T : never): MttrQuery {
  const day = 86_400_000;
  const query: MttrQuery = { trends: q.trends };
  if (q.since !== undefined) query.since = T0 + q.since * day;
  if (q.days !== undefined) query.until = (query.since ?? T0) + q.days * day;
  if (q.split === "automated") query.split = { kind: "automated" };
  if (q.split === "at") query.split = { kind: "at", at: T0 + q.splitDay * day };
  if (q.groupBy === "team") query.groupBy = { label: "team" };
  else if (q.groupBy) query.groupBy = { column: q.groupBy as "service" | "severity" };
  return query;
}

describe("MTTR over SQLite", () => {
  test("the same rows, in the same order, as SQL with percentile_cont, on generated incidents and queries", () => {
    const db = journalDb("oracle");
    const store = sqliteAnalyticsStore(db);
    // The same reading shared with a second thread, as large journals are read.
    const threaded = sqliteAnalyticsStore(db, { secondThreadFrom: 0 });
    try {
      fc.assert(
        fc.property(fc.array(incidentArb, { maxLength: 80 }), fc.array(queryArb, { minLength: 1, maxLength: 4 }), (incidents, queries) => {
          insert(db, incidents);
          for (const q of queries) {
            const query = queryOf(q);
            const got = store.mttr({ ...query, overall: query.groupBy !== undefined });
            const { groupBy, ...ungrouped } = query;
            const expected: MttrResult = oracle(db, query);
            if (groupBy) {
              const all = oracle(db, ungrouped);
              expected.overall = { phases: all.phases, counts: all.counts };
            }
            expect(got).toEqual(expected);
            expect(threaded.mttr({ ...query, overall: query.groupBy !== undefined })).toEqual(expected);
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      db.close();
    }
  });

  test("large groups: many ties, and ranks at both ends", () => {
    const db = journalDb("ties");
    const rows = Array.from({ length: 5000 }, (_, n) => ({ service: n % 3 === 0 ? "a" : "b", severity: null, team: undefined, started: (n % 500) * MIN, detected: (n % 7) * MIN, acknowledged: null, remediationStarted: null, remediated: null, resolved: ((n * 7919) % 97) * MIN, status: "resolved", escalated: 0, attempts: 0 }));
    insert(db, rows);
    try {
      for (const query of [{ groupBy: { column: "service" as const }, trends: true }, { trends: true }, { since: T0 + 100 * MIN, until: T0 + 200 * MIN }]) {
        expect(sqliteAnalyticsStore(db).mttr(query)).toEqual(oracle(db, query));
        expect(sqliteAnalyticsStore(db, { secondThreadFrom: 0 }).mttr(query)).toEqual(oracle(db, query));
      }
    } finally {
      db.close();
    }
  });
});

describe("the second reader", () => {
  test("runs its own copy of the collector: it reads the services it takes and hands back their incidents and statistics", () => {
    const db = journalDb("thread");
    const rows = Array.from({ length: 300 }, (_, n) => ({ service: ["a", "b", null][n % 3]!, severity: null, team: undefined, started: n * MIN, detected: MIN, acknowledged: 2 * MIN, remediationStarted: null, remediated: null, resolved: (n % 10) * MIN, status: "resolved", escalated: n % 2, attempts: 1 }));
    insert(db, rows);
    db.close();
    const columns = "started_at, detected_at, acknowledged_at, remediation_started_at, CASE status WHEN 'resolved' THEN 1 ELSE 0 END, resolved_at, escalated, attempts";
    const sql = {
      named: `SELECT count(collect(${columns})) FROM incidents WHERE service = $service AND started_at IS NOT NULL`,
      none: `SELECT count(collect(${columns})) FROM incidents WHERE service IS NULL AND started_at IS NOT NULL`,
      collect: "collect",
    };
    // The caller takes no service: the thread reads all three.
    const reader = startSecondReader(join(dir, "thread.db"), [null, "a", "b"], sql, {}, {
      phases: phaseOptions({ trends: true }, true),
      grouped: true,
      work: { caller: { cps: [0], weekly: false }, thread: { cps: [3], weekly: true } },
    });
    const read = reader.collected();
    expect(read).toBeDefined();
    expect(read!.groupCount).toBe(3);
    // Per group and cohort: incidents, resolved, open, automated, escalated, attempts.
    expect([...read!.counts.subarray(0, 6)]).toEqual([100, 100, 0, 0, 50, 100]);
    expect(read!.resolvedCount).toBe(300);
    // Group 1 ("a"), cohort 0, resolve: its count and its median, 4.5 minutes.
    const at = (1 * 8 + 3) * 7;
    expect([read!.statistics![at], read!.statistics![at + 4]]).toEqual([100, 4.5 * MIN]);
    // It handed over the detections (the caller's share) and kept the resolutions (its own).
    expect([read!.values[0]!.length > 0, read!.values[3]!.length]).toEqual([true, 0]);
    // Then its share of the work over both threads' incidents: here, the caller read none.
    const none = new MttrCollector({ trends: true }, { keys: [null, "a", "b"] });
    reader.share(none.allParts()[0]!);
    const wide = reader.finish();
    expect(wide!.statistics.map(([cp, stats]) => [cp, stats.count, stats.percentiles[0]])).toEqual([[3, 300, 4.5 * MIN]]);
    expect(wide!.weekly!.reduce((n, week) => n + week.count, 0)).toBe(300);
  });
});

describe("selection", () => {
  test("count, mean, min, max and percentiles of a range match a sort of it, ties, wide spreads and large ranges included", () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 5 }).map((v) => v * 1000), fc.integer({ min: 0, max: 2_000_000_000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 3000 }), fc.nat(5), fc.nat(5), (list, before, after) => {
        const sorted = [...list].sort((a, b) => a - b);
        const ps = [0, 0.5, 0.9, 0.99, 1];
        const expected = ps.map((p) => {
          const ix = p * (list.length - 1);
          const i1 = Math.floor(ix);
          const [v1, v2] = [sorted[i1]!, sorted[ix === i1 || i1 === list.length - 1 ? i1 : i1 + 1]!];
          return Math.round((v1 + (v2 - v1) * (ix - i1)) * 1000) / 1000;
        });
        // The range sits inside a larger array whose other values must not count.
        const values = Float64Array.from([...Array(before).fill(-1e9), ...list, ...Array(after).fill(1e9)]);
        const got = rangeStatistics(values, before, before + list.length, ps);
        // -0 and 0 are the same duration (x + 0 turns -0 into 0): which of them a sort puts last is no error.
        const same = (v: number) => v + 0;
        expect(got.percentiles.map(same)).toEqual(expected.map(same));
        expect([got.count, same(got.min), same(got.max)]).toEqual([list.length, same(sorted[0]!), same(sorted.at(-1)!)]);
        expect(values.subarray(before, before + list.length)).toEqual(Float64Array.from(list));
      }),
      { numRuns: 300 },
    );
  });

  test("groups sort as SQLite sorts them: NULL, numbers, then text by code point", () => {
    const values = ["b", "\uFB00", "\u{1D11E}", null, 7, "", "B", 3];
    expect([...values].sort(sqliteOrder)).toEqual([null, 3, 7, "", "B", "b", "\uFB00", "\u{1D11E}"]);
  });
});
