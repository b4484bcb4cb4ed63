// Benchmark "mttr": a year of incident history, 1,000,000 rows of a pager's
// CSV export (bench/mttr-data.ts, from a fixed seed), imported with `opskit
// incidents import` against the floor of loading it into SQLite (the sqlite3
// shell's `.import` into a plain table: no validation, no indexes), then
// `opskit mttr --by service --compare window:30d` over it against the script
// a team would write today (bench/mttr-pandas.py: pandas reads the same CSV
// and computes the same statistics). Every figure is a process's wall time
// from spawn to exit, startup included, with its peak RSS from GNU time; the
// two sides alternate in rounds that each start in a quiet second where one
// comes. The figures of both analyses are compared (bench/mttr-check.ts)
// before their times count. Goals, judged on the median runs: the import
// within 3x of sqlite3's (≤ 6 s), `opskit mttr` under 2 s; the goals over the
// whole year, with DuckDB as the anchor and the cost-growth table, are
// bench/mttr-scale.ts's (M5-M7).
import { Database } from "bun:sqlite";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { compareReports, type Agreement, type OpskitReport, type PandasReport, type Undetected } from "./mttr-check.ts";
import { generateIncidentsCsv, SERVICES, type Dataset } from "./mttr-data.ts";
import { benchMttrScale } from "./mttr-scale.ts";
import { best, busyLine, count, cpu, dir, list, mb, peak, sec, timed, wall, type Run } from "./mttr-runs.ts";
import { opskitBin, outDir } from "./process.ts";
import type { BenchResult } from "./report.ts";

const ROWS = 1_000_000;
const SEED = 20261125;
const IMPORT_ROUNDS = 3;
const MTTR_ROUNDS = 5;
const CONTEXT_RUNS = 3;
/** Within 3x of the sqlite3 shell's .import of the same file in the same run, and at most 6 s (3x the 2.0 s it took when the goal was set). */
const GOAL_IMPORT_RATIO = 3;
const GOAL_IMPORT_SECONDS = 6;
/** The goal before the whole year's (M5, bench/mttr-scale.ts) was set. */
const GOAL_MTTR_SECONDS = 2;
/** `--compare window:30d`: the last 30 days against the 30 before them. */
const WINDOW_DAYS = 30;
/** Bounds: a run that takes longer has failed to measure. */
const IMPORT_BOUND_MS = 300_000;
const ANALYSIS_BOUND_MS = 300_000;
/** Debian's python3, which python3-pandas installs for (a python3 earlier on PATH may lack pandas). */
const PYTHON = "/usr/bin/python3";
const SOURCE = "pager";

const csv = `${dir}/incidents.csv`;
const journal = `${dir}/journal.db`;
const plain = `${dir}/sqlite3-import.db`;
const html = `${dir}/mttr.html`;

function removeDatabase(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true });
}

const fileBytes = (path: string) => ["", "-wal"].reduce((sum, suffix) => sum + (statSync(`${path}${suffix}`, { throwIfNoEntry: false })?.size ?? 0), 0);

function fileSystemOf(path: string): string {
  const found = Bun.spawnSync(["findmnt", "-n", "-o", "FSTYPE", "-T", path], { stdout: "pipe", stderr: "pipe" });
  return (found.success && found.stdout.toString().trim()) || "unknown";
}

async function importOpskit(): Promise<Run> {
  removeDatabase(journal);
  const run = await timed("opskit incidents import", [opskitBin, "incidents", "import", csv, "--journal", journal, "--source", SOURCE], IMPORT_BOUND_MS);
  const expected = `imported ${ROWS} incidents from ${csv} (${ROWS} new, 0 updated, 0 rows skipped)`;
  if (run.stdout.trim() !== expected) throw new Error(`opskit incidents import printed "${run.stdout.trim()}", expected "${expected}"`);
  return run;
}

async function importSqlite3(): Promise<Run> {
  removeDatabase(plain);
  return timed("sqlite3 .import", ["sqlite3", plain, ".mode csv", `.import ${csv} incidents`], IMPORT_BOUND_MS);
}

/** What the import left: every row an incident, the open ones open. */
function journalCounts(): { incidents: number; open: number; indexes: number; bytes: number } {
  const db = new Database(journal, { readonly: true });
  try {
    const row = db.query<{ n: number; open: number }, []>("SELECT COUNT(*) AS n, SUM(status = 'open') AS open FROM incidents").get()!;
    const indexes = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'incidents'").get()!.n;
    return { incidents: row.n, open: row.open, indexes, bytes: fileBytes(journal) };
  } finally {
    db.close();
  }
}

/** The plain table's rows, and per window the rows without `detected` (read from it: the CSV as it is). */
function plainCounts(windows: { since: number; until: number }[]): { rows: number; undetected: Undetected[] } {
  const db = new Database(plain, { readonly: true });
  try {
    const rows = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM incidents").get()!.n;
    const query = db.query<{ missing: number; acknowledged: number }, { $since: number; $until: number }>(
      `SELECT SUM(detected = '') AS missing, SUM(detected = '' AND acknowledged != '') AS acknowledged FROM incidents
       WHERE unixepoch(started) * 1000 >= $since AND unixepoch(started) * 1000 < $until`,
    );
    const undetected = windows.map(({ since, until }) => {
      const row = query.get({ $since: since, $until: until })!;
      return { withoutDetected: row.missing ?? 0, withoutDetectedAcknowledged: row.acknowledged ?? 0 };
    });
    return { rows, undetected };
  } finally {
    db.close();
  }
}

const mttrCommand = (...extra: string[]) => [opskitBin, "mttr", "--journal", journal, "--compare", `window:${WINDOW_DAYS}d`, ...extra];
const byService = mttrCommand("--by", "service", "--format", "json");

function parseReport(run: Run): OpskitReport {
  const report = JSON.parse(run.stdout) as OpskitReport;
  if (report.overall.length !== 2 || report.groups.length !== SERVICES.length) {
    throw new Error(`opskit mttr reported ${report.overall.length} cohorts and ${report.groups.length} groups, expected 2 and ${SERVICES.length}`);
  }
  return report;
}

interface Samples {
  dataset: Dataset & { seconds: number };
  imports: { opskit: Run[]; sqlite3: Run[] };
  journal: ReturnType<typeof journalCounts>;
  plainRows: number;
  plainBytes: number;
  mttr: { opskit: Run[]; pandas: Run[] };
  /** The warm-up pair whose figures are compared. */
  compared: { opskit: OpskitReport; pandas: PandasReport; undetected: Undetected[] };
  context: { noBy: Run[]; html: Run[]; htmlBytes: number };
  fileSystem: string;
}

/** Import rounds, alternating which side goes first; the journal the last opskit round leaves is the one analysed. */
async function importRounds(): Promise<Samples["imports"]> {
  const imports = { opskit: [] as Run[], sqlite3: [] as Run[] };
  for (let round = 1; round <= IMPORT_ROUNDS; round++) {
    const sides = round % 2 === 1 ? (["opskit", "sqlite3"] as const) : (["sqlite3", "opskit"] as const);
    for (const side of sides) imports[side].push(side === "opskit" ? await importOpskit() : await importSqlite3());
    console.log(`mttr: import round ${round}/${IMPORT_ROUNDS}: opskit ${sec(imports.opskit.at(-1)!.seconds)}, sqlite3 ${sec(imports.sqlite3.at(-1)!.seconds)}`);
  }
  return imports;
}

/**
 * A warm-up of each side, whose pair is the one compared (pandas is given
 * opskit's `until`, so both read the same windows), then the timed rounds.
 */
async function analysisRounds(): Promise<{ mttr: Samples["mttr"]; compared: Samples["compared"]; plainRows: number }> {
  const report = parseReport(await timed("opskit mttr", byService, ANALYSIS_BOUND_MS));
  const untilMs = Date.parse(report.range.until);
  const pandasCommand = [PYTHON, "bench/mttr-pandas.py", csv, String(untilMs), String(WINDOW_DAYS)];
  const pandas = JSON.parse((await timed("pandas", pandasCommand, ANALYSIS_BOUND_MS)).stdout) as PandasReport;
  const at = untilMs - WINDOW_DAYS * 86_400_000;
  const { rows: plainRows, undetected } = plainCounts([{ since: Date.parse(report.range.since!), until: at }, { since: at, until: untilMs }]);

  const mttr = { opskit: [] as Run[], pandas: [] as Run[] };
  for (let round = 1; round <= MTTR_ROUNDS; round++) {
    const sides = round % 2 === 1 ? (["opskit", "pandas"] as const) : (["pandas", "opskit"] as const);
    for (const side of sides) {
      const run = await timed(side, side === "opskit" ? byService : pandasCommand, ANALYSIS_BOUND_MS);
      if (side === "opskit") parseReport(run);
      else JSON.parse(run.stdout);
      mttr[side].push(run);
    }
    console.log(`mttr: analysis round ${round}/${MTTR_ROUNDS}: opskit ${sec(mttr.opskit.at(-1)!.seconds)}, pandas ${sec(mttr.pandas.at(-1)!.seconds)}`);
  }
  return { mttr, compared: { opskit: report, pandas, undetected }, plainRows };
}

/** `opskit mttr` without --by, and rendering the HTML page. */
async function contextRuns(): Promise<Samples["context"]> {
  const context = { noBy: [] as Run[], html: [] as Run[], htmlBytes: 0 };
  for (let run = 1; run <= CONTEXT_RUNS; run++) {
    const noBy = await timed("opskit mttr without --by", mttrCommand("--format", "json"), ANALYSIS_BOUND_MS);
    if ((JSON.parse(noBy.stdout) as OpskitReport).overall.length !== 2) throw new Error("opskit mttr without --by did not report two cohorts");
    context.noBy.push(noBy);
    rmSync(html, { force: true });
    context.html.push(await timed("opskit mttr --format html", mttrCommand("--by", "service", "--format", "html", "-o", html), ANALYSIS_BOUND_MS));
    const page = await Bun.file(html).text();
    if (!/^<!doctype html>/i.test(page)) throw new Error(`${html} is not an HTML page`);
    context.htmlBytes = page.length;
  }
  console.log(`mttr: context: without --by ${sec(wall(context.noBy))}, --format html ${sec(wall(context.html))}`);
  return context;
}

async function measure(): Promise<Samples> {
  mkdirSync(dir, { recursive: true });
  console.log(`mttr: generating ${count(ROWS)} incidents (seed ${SEED}) into ${csv}`);
  const started = performance.now();
  const dataset = { ...(await generateIncidentsCsv(csv, ROWS, SEED)), seconds: (performance.now() - started) / 1000 };
  const imports = await importRounds();
  const journalAfter = journalCounts();
  if (journalAfter.incidents !== ROWS || journalAfter.open !== dataset.open) {
    throw new Error(`the journal holds ${journalAfter.incidents} incidents (${journalAfter.open} open), expected ${ROWS} (${dataset.open} open)`);
  }
  const { mttr, compared, plainRows } = await analysisRounds();
  if (plainRows !== ROWS) throw new Error(`sqlite3 .import loaded ${plainRows} rows, expected ${ROWS}`);
  const context = await contextRuns();
  return { dataset, imports, journal: journalAfter, plainRows, plainBytes: fileBytes(plain), mttr, compared, context, fileSystem: fileSystemOf(dir) };
}

function datasetLine(d: Samples["dataset"]): string {
  const pct = (n: number) => `${((100 * n) / d.rows).toFixed(1)}%`;
  const [top] = d.topServices;
  return `- data: ${count(d.rows)} rows, ${mb(d.bytes)} of CSV made in ${sec(d.seconds)} (\`bench/mttr-data.ts\`, seed ${d.seed}), starts over the 365 days to ${new Date(d.anchorMs).toISOString().slice(0, 16)}Z; ${d.topServices.length} services (most rows: ${top![0]} ${pct(top![1])}, fewest: ${d.topServices.at(-1)![0]} ${pct(d.topServices.at(-1)![1])}); remediated automatically ${pct(d.automated)}; open ${pct(d.open)}; without detected ${pct(d.withoutDetected)}, without acknowledged ${pct(d.withoutAcknowledged)}; escalated ${pct(d.escalated)}`;
}

function results(s: Samples, agreement: Agreement): BenchResult[] {
  const { opskit: oi, sqlite3: si } = s.imports;
  const importRatio = wall(oi) / wall(si);
  const importMet = importRatio <= GOAL_IMPORT_RATIO && wall(oi) <= GOAL_IMPORT_SECONDS;
  const { opskit: om, pandas: pm } = s.mttr;
  const mttrRatio = wall(om) / wall(pm);
  const mttrMet = wall(om) < GOAL_MTTR_SECONDS;
  const [baseline, current] = s.compared.opskit.overall;
  return [
    {
      name: "mttr",
      title: "M1. import 1,000,000 incidents from CSV",
      opskit: `${sec(wall(oi))} median`,
      anchor: `sqlite3 .import ${sec(wall(si))} median`,
      ratio: `${importRatio.toFixed(2)}x sqlite3's time`,
      goal: `≤ ${GOAL_IMPORT_RATIO}x sqlite3, ≤ ${GOAL_IMPORT_SECONDS} s`,
      met: importMet,
      details: [
        `- opskit (\`opskit incidents import incidents.csv --journal J --source ${SOURCE}\`, a fresh journal each run): median **${sec(wall(oi))}**, best ${sec(best(oi))} over ${oi.length} runs (${list(oi)} s) = ${count(Math.round(ROWS / wall(oi)))} rows/s; CPU (user+sys) ${sec(cpu(oi))}; peak RSS **${mb(peak(oi))}**; goal within ${GOAL_IMPORT_RATIO}x sqlite3's time in the same run and ≤ ${GOAL_IMPORT_SECONDS} s: ${importMet ? "met" : "NOT met"}`,
        `- sqlite3 shell (\`sqlite3 DB '.mode csv' '.import incidents.csv incidents'\`, a fresh database each run: one plain table of TEXT columns, no validation, no index): median **${sec(wall(si))}**, best ${sec(best(si))} (${list(si)} s); CPU ${sec(cpu(si))}; peak RSS ${mb(peak(si))}`,
        `- ratio of medians **${importRatio.toFixed(2)}x** sqlite3's time (of the best runs ${(best(oi) / best(si)).toFixed(2)}x): opskit parses and checks every row (RFC 3339 times, milestones not before the start, duplicate ids) as one transaction writes them (all or nothing), as incidents with their labels as JSON, and keeps the journal's ${s.journal.indexes} indexes on incidents (a bulk load re-creates them at the end)`,
        `- checks: opskit printed "imported ${count(ROWS)} incidents … (${count(ROWS)} new, 0 updated, 0 rows skipped)" every run, and the journal holds ${count(s.journal.incidents)} incidents, ${count(s.journal.open)} open as in the file; sqlite3's table holds ${count(s.plainRows)} rows`,
        `- on disk: the journal ${mb(s.journal.bytes)}, sqlite3's table ${mb(s.plainBytes)}; both in bench/out/mttr/ on ${s.fileSystem}, the CSV read from the page cache`,
        datasetLine(s.dataset),
        busyLine([...oi, ...si]),
      ],
    },
    {
      name: "mttr",
      title: "M2. opskit mttr --by service --compare window:30d",
      opskit: `${sec(wall(om))} median`,
      anchor: `pandas ${sec(wall(pm))} median`,
      ratio: `${mttrRatio.toFixed(2)}x pandas' time`,
      goal: `< ${GOAL_MTTR_SECONDS} s`,
      met: mttrMet,
      details: [
        `- opskit (\`opskit mttr --journal J --by service --compare window:30d --format json\` on the imported journal): median **${sec(wall(om))}**, best ${sec(best(om))} over ${om.length} runs (${list(om)} s); CPU ${sec(cpu(om))}; peak RSS ${mb(peak(om))}; goal < ${GOAL_MTTR_SECONDS} s: ${mttrMet ? "met" : "NOT met"}`,
        `- pandas (\`python3 bench/mttr-pandas.py incidents.csv UNTIL\`: read_csv, to_datetime, the four phases, per service and overall for both windows count, median, p90 and mean): median **${sec(wall(pm))}**, best ${sec(best(pm))} (${list(pm)} s); CPU ${sec(cpu(pm))}; peak RSS ${mb(peak(pm))}`,
        `- ratio of medians **${mttrRatio.toFixed(2)}x** pandas' time (of the best runs ${(best(om) / best(pm)).toFixed(2)}x); both process wall times from spawn to exit, startup and reading included, after one warm-up run of each; the rounds alternate which goes first`,
        `- windows: ${baseline!.label} (${count(baseline!.incidents)} incidents) against ${current!.label} (${count(current!.incidents)}); ${s.compared.opskit.groups.length} services`,
        busyLine([...om, ...pm]),
      ],
    },
    {
      name: "mttr",
      title: "M3. the same figures as pandas",
      opskit: agreement.agree ? "resolve, recover agree" : "DISAGREE",
      anchor: "pandas on the CSV",
      ratio: "-",
      goal: "agree",
      met: agreement.agree,
      details: [
        ...agreement.lines,
        "- overall, the warm-up pair (pandas given opskit's `until`):",
        "",
        ...agreement.table,
      ],
    },
    {
      name: "mttr",
      title: "M4. opskit mttr without --by, and --format html",
      opskit: `${sec(wall(s.context.noBy))}; html ${sec(wall(s.context.html))}`,
      anchor: "-",
      ratio: "-",
      goal: "none set",
      met: undefined,
      details: [
        `- \`opskit mttr --journal J --compare window:30d --format json\` (no grouping: the phase statistics are computed once, not per service and then again overall): median **${sec(wall(s.context.noBy))}**, best ${sec(best(s.context.noBy))} over ${s.context.noBy.length} runs (${list(s.context.noBy)} s); peak RSS ${mb(peak(s.context.noBy))}`,
        `- \`opskit mttr --journal J --by service --compare window:30d --format html -o mttr.html\`: median **${sec(wall(s.context.html))}**, best ${sec(best(s.context.html))} (${list(s.context.html)} s); peak RSS ${mb(peak(s.context.html))}; a page of ${(s.context.htmlBytes / 1000).toFixed(0)} kB`,
      ],
    },
  ];
}

export async function benchMttr(): Promise<BenchResult[]> {
  const samples = await measure();
  const agreement = compareReports(samples.compared.opskit, samples.compared.pandas, samples.compared.undetected);
  const scale = await benchMttrScale({ csv, journal, importRuns: samples.imports.opskit, rows: ROWS, seed: SEED, anchorMs: samples.dataset.anchorMs });
  // The runs' output (reports of a few hundred kB each) stays out of the samples file.
  const replacer = (key: string, value: unknown) => (key === "stdout" && typeof value === "string" ? `${value.length} bytes` : value);
  await Bun.write(`${outDir}/mttr-samples.json`, `${JSON.stringify({ ...samples, scale }, replacer, 2)}\n`);
  return [...results(samples, agreement), ...scale];
}
