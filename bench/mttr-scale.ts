// The MTTR goals on their hardest form: `opskit mttr --since 2025-01-01 --by
// service --format json` over the whole year (every incident, 200 services,
// every phase, median/p90/p99, the weekly trend and the histogram), against
// DuckDB computing the same statistics over the same rows in the same rounds
// (bench/mttr-duckdb.mjs under Node, from a DuckDB table of the same CSV);
// `--compare before:DATE` and `--format html` beside it; and the cost-growth
// table: the same import and the same analysis at 10,000, 100,000 and
// 1,000,000 incidents.
import { rmSync } from "node:fs";
import { generateIncidentsCsv, SERVICES } from "./mttr-data.ts";
import { best, busyLine, count, cpu, dir, list, mb, peak, sec, timed, wall, type Run } from "./mttr-runs.ts";
import { opskitBin, root } from "./process.ts";
import type { BenchResult } from "./report.ts";

const SINCE = "2025-01-01";
const ROUNDS = 5;
const SMALLER = [10_000, 100_000];
const IMPORT_ROUNDS = 3;
const BOUND_MS = 300_000;
const GOAL_SECONDS = 1;
const GOAL_HTML_RATIO = 1.5;
const GOAL_GROWTH = 12;
const TOLERANCE_MS = 0.01;
const SOURCE = "pager";

export interface Scale {
  /** The 1M-row CSV and the journal M1 imported it into, with M1's import runs. */
  csv: string;
  journal: string;
  importRuns: Run[];
  rows: number;
  seed: number;
  anchorMs: number;
}

interface Stats {
  count: number;
  mean?: number | null;
  median?: number | null;
  p90?: number | null;
  p99?: number | null;
  min?: number | null;
  max?: number | null;
}
interface OpskitReport {
  range: { since?: string; until: string };
  overall: { incidents: number; resolved: number; open: number; escalated: number; phases: Record<string, Stats> }[];
  groups: { group: string; cohorts: { incidents: number; resolved: number; open: number; escalated: number; phases: Record<string, Stats> }[] }[];
  weekly: { week: string; count: number; median?: number; p90?: number }[];
  distribution: { le: number | null; count: number }[];
}
interface DuckReport {
  overall: { phases: Record<string, Stats>; counts: Record<string, number> };
  services: Record<string, { phases: Record<string, Stats>; counts: Record<string, number> }>;
  weekly: { week: string; count: number; median: number; p90: number }[];
  distribution: { le: number | null; count: number }[];
}

const node = (...args: string[]) => ["node", `${root}/bench/mttr-duckdb.mjs`, ...args];
const goalCommand = (journal: string, ...extra: string[]) => [opskitBin, "mttr", "--journal", journal, "--since", SINCE, "--by", "service", ...extra];
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Every figure DuckDB gives against opskit's: counts exactly, durations within TOLERANCE_MS (opskit rounds percentiles to the µs). */
function agreement(opskit: OpskitReport, duck: DuckReport): { agree: boolean; compared: number; worst: number; problems: string[] } {
  const problems: string[] = [];
  let [compared, worst] = [0, 0];
  const phases = (name: string, o: Record<string, Stats>, d: Record<string, Stats> | undefined) => {
    for (const phase of ["detect", "isolate", "recover", "resolve"]) {
      const [a, b] = [o[phase], d?.[phase]];
      if ((a?.count ?? 0) === 0 && !b) continue;
      compared++;
      if (!a || !b || a.count !== b.count) {
        problems.push(`${name} ${phase}: count ${a?.count} vs ${b?.count}`);
        continue;
      }
      for (const key of ["mean", "median", "p90", "p99", "min", "max"] as const) {
        const gap = Math.abs((a[key] ?? NaN) - (b[key] ?? NaN));
        if (!(gap <= TOLERANCE_MS)) problems.push(`${name} ${phase} ${key}: ${a[key]} vs ${b[key]}`);
        else worst = Math.max(worst, gap);
      }
    }
  };
  const counts = (name: string, o: { incidents: number; resolved: number; open: number; escalated: number }, d: Record<string, number> | undefined) => {
    for (const key of ["incidents", "resolved", "open", "escalated"] as const) if (o[key] !== d?.[key]) problems.push(`${name} ${key}: ${o[key]} vs ${d?.[key]}`);
  };
  phases("overall", opskit.overall[0]!.phases, duck.overall.phases);
  counts("overall", opskit.overall[0]!, duck.overall.counts);
  for (const g of opskit.groups) {
    phases(g.group, g.cohorts[0]!.phases, duck.services[g.group]?.phases);
    counts(g.group, g.cohorts[0]!, duck.services[g.group]?.counts);
  }
  if (Object.keys(duck.services).length !== opskit.groups.length) problems.push(`services: opskit ${opskit.groups.length}, DuckDB ${Object.keys(duck.services).length}`);
  if (JSON.stringify(opskit.distribution) !== JSON.stringify(duck.distribution)) problems.push("the histogram differs");
  const weeks = opskit.weekly.length === duck.weekly.length && opskit.weekly.every((w, i) => w.week === duck.weekly[i]!.week && w.count === duck.weekly[i]!.count && Math.abs(w.median! - duck.weekly[i]!.median) <= TOLERANCE_MS && Math.abs(w.p90! - duck.weekly[i]!.p90) <= TOLERANCE_MS);
  if (!weeks) problems.push("the weekly trend differs");
  return { agree: problems.length === 0, compared, worst, problems };
}

function removeDatabase(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true });
}

async function importRuns(csv: string, journal: string, rows: number): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 0; round < IMPORT_ROUNDS; round++) {
    removeDatabase(journal);
    const run = await timed("opskit incidents import", [opskitBin, "incidents", "import", csv, "--journal", journal, "--source", SOURCE], BOUND_MS);
    if (!run.stdout.includes(`(${rows} new, 0 updated, 0 rows skipped)`)) throw new Error(`opskit incidents import printed "${run.stdout.trim()}"`);
    runs.push(run);
  }
  return runs;
}

interface Size {
  rows: number;
  imports: Run[];
  opskit: Run[];
  duckdb: Run[];
}

/** Rounds of the goal command against DuckDB's query, alternating which goes first; html and --compare in the 1M rounds. */
async function analysisRounds(journal: string, duck: string, extra: boolean): Promise<{ opskit: Run[]; duckdb: Run[]; html: Run[]; compare: Run[]; compareAt: string }> {
  const out = { opskit: [] as Run[], duckdb: [] as Run[], html: [] as Run[], compare: [] as Run[], compareAt: "" };
  const html = `${dir}/mttr-since.html`;
  for (let round = 0; round < ROUNDS; round++) {
    const untilMs = Date.now();
    const sides = round % 2 === 0 ? (["opskit", "duckdb"] as const) : (["duckdb", "opskit"] as const);
    for (const side of sides) {
      if (side === "opskit") out.opskit.push(await timed("opskit mttr", goalCommand(journal, "--format", "json"), BOUND_MS));
      else out.duckdb.push(await timed("duckdb", node("query", duck, String(Date.parse(`${SINCE}T00:00:00Z`)), String(untilMs)), BOUND_MS));
    }
    if (!extra) continue;
    rmSync(html, { force: true });
    out.html.push(await timed("opskit mttr --format html", goalCommand(journal, "--format", "html", "-o", html), BOUND_MS));
    if (!/^<!doctype html>/i.test(await Bun.file(html).text())) throw new Error(`${html} is not an HTML page`);
    // Half a year before the data's end: both cohorts hold about half the incidents.
    out.compareAt = day(untilMs - 182 * 86_400_000);
    const compare = await timed("opskit mttr --compare", goalCommand(journal, "--compare", `before:${out.compareAt}`, "--format", "json"), BOUND_MS);
    if ((JSON.parse(compare.stdout) as OpskitReport).overall.length !== 2) throw new Error("opskit mttr --compare before: did not report two cohorts");
    out.compare.push(compare);
  }
  return out;
}

export async function benchMttrScale(input: Scale): Promise<BenchResult[]> {
  const duck = (rows: number) => `${dir}/duckdb-${rows}.db`;
  removeDatabase(duck(input.rows));
  await timed("duckdb load", node("load", input.csv, duck(input.rows)), BOUND_MS);
  // A warm-up of each, whose figures are compared (DuckDB given opskit's range).
  const report = JSON.parse((await timed("opskit mttr", goalCommand(input.journal, "--format", "json"), BOUND_MS)).stdout) as OpskitReport;
  if (report.groups.length !== SERVICES.length || report.overall[0]!.incidents !== input.rows) throw new Error(`opskit mttr reported ${report.groups.length} services and ${report.overall[0]!.incidents} incidents`);
  const duckReport = JSON.parse((await timed("duckdb", node("query", duck(input.rows), String(Date.parse(report.range.since!)), String(Date.parse(report.range.until))), BOUND_MS)).stdout) as DuckReport;
  const agreed = agreement(report, duckReport);
  const full = await analysisRounds(input.journal, duck(input.rows), true);
  console.log(`mttr: --since ${SINCE} --by service: opskit ${sec(wall(full.opskit))}, DuckDB ${sec(wall(full.duckdb))}; html ${sec(wall(full.html))}; --compare ${sec(wall(full.compare))}`);

  const sizes: Size[] = [];
  for (const rows of SMALLER) {
    const csv = `${dir}/incidents-${rows}.csv`;
    const journal = `${dir}/journal-${rows}.db`;
    await generateIncidentsCsv(csv, rows, input.seed, input.anchorMs);
    const imports = await importRuns(csv, journal, rows);
    removeDatabase(duck(rows));
    await timed("duckdb load", node("load", csv, duck(rows)), BOUND_MS);
    const runs = await analysisRounds(journal, duck(rows), false);
    sizes.push({ rows, imports, opskit: runs.opskit, duckdb: runs.duckdb });
    console.log(`mttr: ${count(rows)} incidents: import ${sec(wall(imports))}, mttr ${sec(wall(runs.opskit))}, DuckDB ${sec(wall(runs.duckdb))}`);
  }
  sizes.push({ rows: input.rows, imports: input.importRuns, opskit: full.opskit, duckdb: full.duckdb });
  return results(input, full, sizes, agreed);
}

function growthTable(sizes: Size[]): { lines: string[]; worst: number } {
  const lines = [
    "| incidents | opskit incidents import | × the size before | opskit mttr --since --by service | × the size before | DuckDB, the same statistics | × the size before |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  let worst = 0;
  sizes.forEach((size, i) => {
    const before = sizes[i - 1];
    const growth = (now: Run[], then: Run[] | undefined) => (then ? `${(wall(now) / wall(then)).toFixed(2)}x` : "-");
    if (before) worst = Math.max(worst, wall(size.opskit) / wall(before.opskit), wall(size.imports) / wall(before.imports));
    lines.push(`| ${count(size.rows)} | ${sec(wall(size.imports))} | ${growth(size.imports, before?.imports)} | ${sec(wall(size.opskit))} | ${growth(size.opskit, before?.opskit)} | ${sec(wall(size.duckdb))} | ${growth(size.duckdb, before?.duckdb)} |`);
  });
  return { lines, worst };
}

function results(input: Scale, full: Awaited<ReturnType<typeof analysisRounds>>, sizes: Size[], agreed: ReturnType<typeof agreement>): BenchResult[] {
  const [o, d] = [full.opskit, full.duckdb];
  const met = wall(o) < GOAL_SECONDS;
  const htmlRatio = wall(full.html) / wall(o);
  const growth = growthTable(sizes);
  const command = `opskit mttr --journal J --since ${SINCE} --by service --format json`;
  return [
    {
      name: "mttr",
      title: `M5. opskit mttr --since ${SINCE} --by service, ${count(input.rows)} incidents`,
      opskit: `${sec(wall(o))} median`,
      anchor: `DuckDB ${sec(wall(d))} median`,
      ratio: `${(wall(o) / wall(d)).toFixed(2)}x DuckDB's time`,
      goal: `< ${GOAL_SECONDS} s`,
      met,
      details: [
        `- opskit (\`${command}\` on M1's journal: every incident of the year, ${SERVICES.length} services, the four phases' count, mean, median, p90, p99, min and max per service and overall, the weekly trend and the histogram): median **${sec(wall(o))}**, best ${sec(best(o))} over ${o.length} runs (${list(o)} s); CPU ${sec(cpu(o))} (two threads read the journal); peak RSS ${mb(peak(o))}; goal < ${GOAL_SECONDS} s: ${met ? "met" : "NOT met"}`,
        `- DuckDB (\`node bench/mttr-duckdb.mjs query DB SINCE UNTIL\`: @duckdb/node-api under Node, the same statistics in SQL with quantile_cont and GROUPING SETS over a DuckDB table loaded from the same CSV beforehand, untimed): median **${sec(wall(d))}**, best ${sec(best(d))} (${list(d)} s); CPU ${sec(cpu(d))}; peak RSS ${mb(peak(d))}`,
        `- ratio of medians **${(wall(o) / wall(d)).toFixed(2)}x** DuckDB's time (of the best runs ${(best(o) / best(d)).toFixed(2)}x); both process wall times from spawn to exit, after one warm-up run of each; the rounds alternate which goes first`,
        agreed.agree
          ? `- the same figures: all ${agreed.compared} phase statistics (${SERVICES.length} services and overall) agree with DuckDB's, counts exactly, durations within ${TOLERANCE_MS} ms (the largest difference ${agreed.worst === 0 ? "0" : agreed.worst.toExponential(1)} ms), and so do the counts, the weekly trend and the histogram`
          : `- **opskit and DuckDB disagree**: ${agreed.problems.slice(0, 8).join("; ")}`,
        busyLine([...o, ...d]),
      ],
    },
    {
      name: "mttr",
      title: "M6. the same with --compare before:DATE, and --format html",
      opskit: `compare ${sec(wall(full.compare))}; html ${sec(wall(full.html))}`,
      anchor: `json ${sec(wall(o))}`,
      ratio: `html ${htmlRatio.toFixed(2)}x json`,
      goal: `< ${GOAL_SECONDS} s; html ≤ ${GOAL_HTML_RATIO}x`,
      met: wall(full.compare) < GOAL_SECONDS && htmlRatio <= GOAL_HTML_RATIO,
      details: [
        `- \`${command.replace(" --format json", "")} --compare before:${full.compareAt} --format json\` (two cohorts, each by service): median **${sec(wall(full.compare))}**, best ${sec(best(full.compare))} (${list(full.compare)} s); peak RSS ${mb(peak(full.compare))}`,
        `- \`${command.replace(" --format json", "")} --format html -o mttr.html\`: median **${sec(wall(full.html))}**, best ${sec(best(full.html))} (${list(full.html)} s), **${htmlRatio.toFixed(2)}x** the json run's median; peak RSS ${mb(peak(full.html))}`,
        busyLine([...full.compare, ...full.html]),
      ],
    },
    {
      name: "mttr",
      title: "M7. cost growth: 10,000, 100,000 and 1,000,000 incidents",
      opskit: `worst step ${growth.worst.toFixed(2)}x for 10x`,
      anchor: "DuckDB in the same rounds",
      ratio: "-",
      goal: `≤ ${GOAL_GROWTH}x per 10x`,
      met: growth.worst <= GOAL_GROWTH,
      details: [
        `- the same data generator (seed ${input.seed}, the same year and ${SERVICES.length} services) at each size; imports into a fresh journal (${IMPORT_ROUNDS} runs each), then \`${command}\` and DuckDB's query in alternating rounds (${ROUNDS} each); medians`,
        "",
        ...growth.lines,
      ],
    },
  ];
}
