// Do `opskit mttr --format json` and the pandas script (bench/mttr-pandas.py)
// report the same statistics over the same windows? Time to resolve and time
// to recover must agree for every service and overall: counts exactly,
// median, p90 and mean within 0.01 ms (opskit rounds to the microsecond).
// Time to detect and to isolate must agree overall too: an export's row
// without `detected` is left out of detect, and its isolate runs from the
// start, in both.

const PHASES = ["detect", "isolate", "recover", "resolve"] as const;
type Phase = (typeof PHASES)[number];
const STATS = ["count", "median", "p90", "mean"] as const;
const TOLERANCE_MS = 0.01;

interface Stats {
  count: number;
  median?: number;
  p90?: number;
  mean?: number;
}

/** The parts of opskit's JSON report compared here. */
export interface OpskitReport {
  range: { since?: string; until: string };
  overall: { label: string; incidents: number; open: number; phases: Record<Phase, Stats> }[];
  groups: { group: string; cohorts: { phases: Record<Phase, Stats> }[] }[];
}

export interface PandasReport {
  windows: { since: string; until: string; incidents: number; open: number; overall: Record<Phase, Stats>; services: Record<string, Record<Phase, Stats>> }[];
}

/** Per window: rows of the export without `detected`, and those of them with `acknowledged`. */
export interface Undetected {
  withoutDetected: number;
  withoutDetectedAcknowledged: number;
}

export interface Agreement {
  /** resolve and recover agree everywhere, detect and isolate overall. */
  agree: boolean;
  /** The overall figures of both windows side by side, a Markdown table. */
  table: string[];
  /** What was compared and what differed. */
  lines: string[];
}

const count = (n: number) => n.toLocaleString("en-US");
const ms = (value: number | undefined) => (value === undefined ? "-" : value >= 60_000 ? `${(value / 60_000).toFixed(2)} min` : `${(value / 1000).toFixed(2)} s`);

/** The largest difference between two phases' statistics, count apart; NaN when one side lacks a value the other has. */
function gap(a: Stats | undefined, b: Stats | undefined): { count: number; value: number } {
  if (!a || !b) return { count: Number.NaN, value: Number.NaN };
  let value = 0;
  for (const key of ["median", "p90", "mean"] as const) {
    if (a[key] === undefined && b[key] === undefined) continue;
    if (a[key] === undefined || b[key] === undefined) return { count: a.count - b.count, value: Number.NaN };
    value = Math.max(value, Math.abs(a[key]! - b[key]!));
  }
  return { count: a.count - b.count, value };
}

export function compareReports(opskit: OpskitReport, pandas: PandasReport, undetected: Undetected[]): Agreement {
  const lines: string[] = [];
  const problems: string[] = [];
  const table = [
    "| window | phase | opskit count | pandas count | opskit median | pandas median | opskit p90 | pandas p90 | opskit mean | pandas mean |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  let compared = 0;
  let worst = 0;
  for (const [w, window] of pandas.windows.entries()) {
    const cohort = opskit.overall[w]!;
    const expected = undetected[w]!;
    if (cohort.incidents !== window.incidents || cohort.open !== window.open) {
      problems.push(`${cohort.label}: opskit counts ${cohort.incidents} incidents (${cohort.open} open), pandas ${window.incidents} (${window.open} open)`);
    }
    for (const phase of PHASES) {
      const [o, p] = [cohort.phases[phase], window.overall[phase]];
      table.push(`| ${cohort.label} | ${phase} | ${count(o.count)} | ${count(p.count)} | ${ms(o.median)} | ${ms(p.median)} | ${ms(o.p90)} | ${ms(p.p90)} | ${ms(o.mean)} | ${ms(p.mean)} |`);
    }
    // Each service and the overall figures, phase by phase.
    const sides: [string, Record<Phase, Stats> | undefined, Record<Phase, Stats> | undefined][] = [
      ["overall", cohort.phases, window.overall],
      ...opskit.groups.map((g) => [g.group, g.cohorts[w]?.phases, window.services[g.group]] as [string, Record<Phase, Stats> | undefined, Record<Phase, Stats> | undefined]),
    ];
    const missing = Object.keys(window.services).filter((s) => !opskit.groups.some((g) => g.group === s));
    if (missing.length > 0) problems.push(`${cohort.label}: services only pandas reports: ${missing.join(", ")}`);
    for (const [name, o, p] of sides) {
      for (const phase of ["recover", "resolve"] as const) {
        // A service without such incidents in the window: opskit reports a count of 0, pandas nothing.
        if ((o?.[phase]?.count ?? 0) === 0 && p?.[phase] === undefined) continue;
        const d = gap(o?.[phase], p?.[phase]);
        compared++;
        if (d.count !== 0 || !(d.value <= TOLERANCE_MS)) problems.push(`${cohort.label} ${name} ${phase}: opskit ${JSON.stringify(o?.[phase])}, pandas ${JSON.stringify(p?.[phase])}`);
        else worst = Math.max(worst, d.value);
      }
    }
    // detect and isolate, overall: the same counts (an export's missing `detected` leaves the
    // incident out of detect, and isolate runs from the start), medians within rounding.
    for (const phase of ["detect", "isolate"] as const) {
      const d = gap(cohort.phases[phase], window.overall[phase]);
      compared++;
      if (d.count !== 0 || !(d.value <= TOLERANCE_MS)) problems.push(`${cohort.label} overall ${phase}: opskit ${JSON.stringify(cohort.phases[phase])}, pandas ${JSON.stringify(window.overall[phase])}`);
      else worst = Math.max(worst, d.value);
    }
    lines.push(`- ${cohort.label}: ${count(expected.withoutDetected)} rows in the window have no \`detected\` (${count(expected.withoutDetectedAcknowledged)} of them acknowledged): both leave them out of detect and measure isolate from the start`);
  }
  lines.unshift(
    problems.length === 0
      ? `- time to resolve and time to recover agree in all ${compared} comparisons (${opskit.groups.length} services and overall, both windows): counts exactly, median, p90 and mean within ${TOLERANCE_MS} ms (the largest difference ${worst === 0 ? "0" : worst.toExponential(1)} ms)`
      : `- **the two disagree**: ${problems.slice(0, 10).join("; ")}${problems.length > 10 ? `; and ${problems.length - 10} more` : ""}`,
  );
  return { agree: problems.length === 0, table, lines };
}
