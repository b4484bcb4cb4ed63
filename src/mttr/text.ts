import { formatChange } from "./format.ts";
import { formatMs } from "../ui/index.ts";
import { headline } from "./headline.ts";
import { phases, type Cohort, type MttrReport, type Phase, type PhaseChange } from "./types.ts";

export const phaseNames: Record<Phase, string> = {
  detect: "time to detect",
  isolate: "time to isolate",
  recover: "time to recover",
  resolve: "time to resolve",
};

const show = (ms: number | undefined) => (ms === undefined ? "-" : formatMs(ms));
const showChange = (ratio: number | undefined) => (ratio === undefined ? "-" : formatChange(ratio));

/** Rows of cells as columns padded to their widest cell; the first column left-aligned, numbers right-aligned. */
function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd());
}

function cohortLine(cohort: Cohort): string {
  return `${cohort.label}: ${cohort.incidents} incidents (${cohort.resolved} resolved, ${cohort.open} open and counted apart), ${cohort.automated} automated, ${cohort.manual} manual, ${cohort.escalated} escalated, ${cohort.attempts} remediation attempts`;
}

function phaseTable(cohorts: Cohort[], changes: Record<Phase, PhaseChange> | undefined): string[] {
  if (cohorts.length === 1) {
    const c = cohorts[0]!;
    const rows = [["phase", "n", "median", "p90", "p99", "mean", "min", "max"]];
    for (const phase of phases) {
      const s = c.phases[phase];
      rows.push([phaseNames[phase], String(s.count), show(s.median), show(s.p90), show(s.p99), show(s.mean), show(s.min), show(s.max)]);
    }
    return alignColumns(rows);
  }
  const [a, b] = cohorts as [Cohort, Cohort];
  const rows = [
    ["", a.label, "", "", "", b.label, "", "", "", "change", ""],
    ["phase", "n", "median", "p90", "mean", "n", "median", "p90", "mean", "median", "p90"],
  ];
  for (const phase of phases) {
    const x = a.phases[phase];
    const y = b.phases[phase];
    rows.push([phaseNames[phase], String(x.count), show(x.median), show(x.p90), show(x.mean), String(y.count), show(y.median), show(y.p90), show(y.mean), showChange(changes?.[phase].median), showChange(changes?.[phase].p90)]);
  }
  // The cohort labels sit above their columns, left-aligned, not padded into them.
  const aligned = alignColumns(rows.slice(1));
  const starts = columnStarts(aligned[0]!, rows[1]!);
  let header = "";
  for (const [i, label] of [[1, a.label], [5, b.label], [9, "change"]] as const) header = header.padEnd(starts[i]!) + label + " ";
  return [header.trimEnd(), ...aligned];
}

/** Where each header cell starts in an aligned line. */
function columnStarts(line: string, cells: string[]): number[] {
  const starts: number[] = [];
  let from = 0;
  for (const cell of cells) {
    const at = line.indexOf(cell, from);
    starts.push(Math.max(0, at - 1));
    from = at + cell.length;
  }
  return starts;
}

/** Terminal table: a headline, the phases per cohort, the counts; the same per group. */
export function renderTable(report: MttrReport): string {
  const out: string[] = [];
  const range = `${report.range.since ? report.range.since.slice(0, 10) : "all history"} to ${report.range.until.slice(0, 10)} (UTC, by start time)`;
  out.push(`MTTR ${range}${report.compare ? ` · ${report.compare.baseline} → ${report.compare.current}` : ""}${report.by ? ` · by ${report.by}` : ""}`);
  out.push(headline(report.overall, report.changes), "");
  out.push(...phaseTable(report.overall, report.changes), "");
  for (const cohort of report.overall) out.push(cohortLine(cohort));
  for (const group of report.groups) {
    out.push("", `${report.by} = ${group.group}: ${headline(group.cohorts, group.changes)}`);
    out.push(...phaseTable(group.cohorts, group.changes).map((l) => `  ${l}`));
    for (const cohort of group.cohorts) out.push(`  ${cohortLine(cohort)}`);
  }
  return `${out.join("\n")}\n`;
}

/** Markdown for a wiki or a postmortem: the same figures as the table. */
export function renderMarkdown(report: MttrReport): string {
  const out: string[] = [];
  out.push(`# MTTR ${report.range.since ? report.range.since.slice(0, 10) : "all history"} to ${report.range.until.slice(0, 10)}`, "");
  out.push(headline(report.overall, report.changes), "");
  const table = (cohorts: Cohort[], changes: Record<Phase, PhaseChange> | undefined) => {
    const head = ["Phase", ...cohorts.flatMap((c) => [`${c.label} n`, `${c.label} median`, `${c.label} p90`, `${c.label} mean`]), ...(changes ? ["Change (median)", "Change (p90)"] : [])];
    const rows = phases.map((phase) => [
      phaseNames[phase],
      ...cohorts.flatMap((c) => [String(c.phases[phase].count), show(c.phases[phase].median), show(c.phases[phase].p90), show(c.phases[phase].mean)]),
      ...(changes ? [showChange(changes[phase].median), showChange(changes[phase].p90)] : []),
    ]);
    return [`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
  };
  out.push(...table(report.overall, report.changes), "");
  for (const cohort of report.overall) out.push(`- ${cohortLine(cohort)}`);
  for (const group of report.groups) {
    out.push("", `## ${report.by} = ${group.group.replace(/([\\`*_|<>[\]#])/g, "\\$1")}`, "", headline(group.cohorts, group.changes), "", ...table(group.cohorts, group.changes), "");
    for (const cohort of group.cohorts) out.push(`- ${cohortLine(cohort)}`);
  }
  out.push("", "Definitions: time to detect = detected − started; time to isolate = first of remediation started or acknowledged − detected (started, for imported history without a detected time); time to recover = resolved − remediation started (acknowledged for a human-handled incident); time to resolve = resolved − started. Open incidents are counted apart.");
  return `${out.join("\n")}\n`;
}
