// The MTTR benchmark's analytics anchor: DuckDB (@duckdb/node-api, a dev
// dependency, under Node) computing what `opskit mttr --since DATE --by service
// --format json` reports, over the same rows, from its own storage. Plain
// JavaScript: Node runs it as it is.
//   node bench/mttr-duckdb.mjs load CSV DB           the export into a DuckDB table (not timed)
//   node bench/mttr-duckdb.mjs query DB SINCE UNTIL  the statistics as JSON (epoch ms bounds)
// Phases as opskit defines them for an export without remediation times
// (README): detect = detected − started; isolate = acknowledged − (detected,
// else started); recover = resolved − acknowledged; resolve = resolved −
// started; a missing milestone or a negative duration leaves the incident out
// of that phase, open incidents out of recover and resolve. Percentiles
// interpolate between ranks (quantile_cont), as opskit's do.
import { DuckDBInstance } from "@duckdb/node-api";

const WEEK_MS = 7 * 86_400_000;
const MONDAY_MS = 4 * 86_400_000;
const BUCKETS_MS = [5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * 60_000);

const [mode, ...args] = process.argv.slice(2);
const number = (value) => (value === null || value === undefined ? null : Number(value));

async function load(csv, file) {
  const db = await DuckDBInstance.create(file);
  const connection = await db.connect();
  const times = ["started", "detected", "acknowledged", "resolved"];
  await connection.run(`CREATE OR REPLACE TABLE incidents AS SELECT id, service, ${times.map((t) => `epoch_ms(${t}) AS ${t}`).join(", ")}, escalated
    FROM read_csv('${csv.replaceAll("'", "''")}', header = true, timestampformat = '%Y-%m-%dT%H:%M:%SZ',
      types = {${times.map((t) => `'${t}': 'TIMESTAMP'`).join(", ")}, 'escalated': 'BOOLEAN'})`);
  connection.closeSync();
}

async function query(file, since, until) {
  const db = await DuckDBInstance.create(file, { access_mode: "READ_ONLY" });
  const connection = await db.connect();
  const base = `base AS (SELECT * FROM incidents WHERE started >= ${Number(since)} AND started < ${Number(until)})`;
  const phases = await connection.runAndReadAll(`WITH ${base}, durations AS (
      SELECT service, 'detect' AS phase, detected - started AS ms FROM base WHERE detected IS NOT NULL
      UNION ALL SELECT service, 'isolate', acknowledged - coalesce(detected, started) FROM base WHERE acknowledged IS NOT NULL
      UNION ALL SELECT service, 'recover', resolved - acknowledged FROM base WHERE resolved IS NOT NULL AND acknowledged IS NOT NULL
      UNION ALL SELECT service, 'resolve', resolved - started FROM base WHERE resolved IS NOT NULL)
    SELECT service, phase, grouping(service) AS overall, count(*) AS count, avg(ms) AS mean, min(ms) AS min, max(ms) AS max,
      quantile_cont(ms, [0.5, 0.9, 0.99]) AS q
    FROM durations WHERE ms >= 0 GROUP BY GROUPING SETS ((service, phase), (phase))`);
  const counts = await connection.runAndReadAll(`WITH ${base}
    SELECT service, grouping(service) AS overall, count(*) AS incidents, count(resolved) AS resolved, count(*) - count(resolved) AS open, sum(escalated::INTEGER) AS escalated
    FROM base GROUP BY GROUPING SETS ((service), ())`);
  const weekly = await connection.runAndReadAll(`WITH ${base}
    SELECT (started - ${MONDAY_MS}) // ${WEEK_MS} AS week, count(*) AS count, quantile_cont(resolved - started, [0.5, 0.9]) AS q
    FROM base WHERE resolved >= started GROUP BY week ORDER BY week`);
  const buckets = `CASE ${BUCKETS_MS.map((le, i) => `WHEN resolved - started <= ${le} THEN ${i}`).join(" ")} ELSE ${BUCKETS_MS.length} END`;
  const histogram = await connection.runAndReadAll(`WITH ${base} SELECT ${buckets} AS bucket, count(*) AS n FROM base WHERE resolved >= started GROUP BY bucket`);

  const report = { overall: { phases: {}, counts: {} }, services: {}, weekly: [], distribution: [] };
  for (const row of phases.getRowObjectsJS()) {
    const [median, p90, p99] = row.q.map(number);
    const stats = { count: number(row.count), mean: number(row.mean), median, p90, p99, min: number(row.min), max: number(row.max) };
    const into = Number(row.overall) === 1 ? report.overall : (report.services[row.service] ??= { phases: {}, counts: {} });
    into.phases[row.phase] = stats;
  }
  for (const row of counts.getRowObjectsJS()) {
    const into = Number(row.overall) === 1 ? report.overall : (report.services[row.service] ??= { phases: {}, counts: {} });
    into.counts = { incidents: number(row.incidents), resolved: number(row.resolved), open: number(row.open), escalated: number(row.escalated) };
  }
  report.weekly = weekly.getRowObjectsJS().map((row) => ({ week: new Date(Number(row.week) * WEEK_MS + MONDAY_MS).toISOString().slice(0, 10), count: number(row.count), median: number(row.q[0]), p90: number(row.q[1]) }));
  const byBucket = new Map(histogram.getRowObjectsJS().map((row) => [Number(row.bucket), number(row.n)]));
  report.distribution = [...BUCKETS_MS, null].map((le, i) => ({ le, count: byBucket.get(i) ?? 0 }));
  connection.closeSync();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (mode === "load" && args.length === 2) await load(args[0], args[1]);
else if (mode === "query" && args.length === 3) await query(args[0], args[1], args[2]);
else {
  console.error("usage: node bench/mttr-duckdb.mjs load CSV DB | query DB SINCE_MS UNTIL_MS");
  process.exit(64);
}
