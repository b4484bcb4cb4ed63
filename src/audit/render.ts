import type { Palette } from "../ui/index.ts";
import type { AuditReport } from "./run.ts";
import type { Finding, Severity } from "./types.ts";

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

/** "12 findings: 3 errors, 8 warnings, 1 note; 2 suppressed; 41 files, 5,210 lines"; with a baseline "2 findings new: …; 2 suppressed; 10 in the baseline; …" */
export function summaryLine(report: AuditReport): string {
  const s = report.summary;
  const baselined = s.baselined === undefined ? "" : `; ${s.baselined.toLocaleString("en-US")} in the baseline`;
  return `${plural(s.findings, "finding")}${s.baselined === undefined ? "" : " new"}: ${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}, ${plural(s.notes, "note")}; ${s.suppressed.toLocaleString("en-US")} suppressed${baselined}; ${plural(s.files, "file")}, ${plural(s.lines, "line")}`;
}

const clip = (text: string, max = 160) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * For people: findings grouped by file, each as `file:line:col severity RULE
 * message` (the form editors and terminals turn into links) with its source
 * line and fix; then suppressed findings, notices, and the summary last,
 * where the eye lands.
 */
export function renderText(report: AuditReport, color: Palette): string {
  const out: string[] = [];
  const paint: Record<Severity, (t: string) => string> = { error: color.red, warning: color.yellow, note: color.dim };
  let current: string | undefined;
  for (const finding of report.findings) {
    if (finding.file !== current) {
      if (current !== undefined) out.push("");
      current = finding.file;
      const count = report.findings.filter((f) => f.file === current).length;
      out.push(color.bold(`${current} (${plural(count, "finding")})`));
    }
    out.push(`${location(finding)} ${paint[finding.severity](finding.severity)} ${finding.rule} ${finding.message}`);
    if (finding.source.trim()) out.push(color.dim(`    | ${clip(finding.source.trim())}`));
    out.push(`    fix: ${finding.fix}`);
  }
  if (report.suppressed.length > 0) {
    if (out.length > 0) out.push("");
    out.push(color.bold(`suppressed (${report.suppressed.length})`));
    for (const finding of report.suppressed) out.push(color.dim(`${location(finding)} ${finding.rule}: ${finding.suppressed!.reason}`));
  }
  const notices = [...report.notices];
  if (report.summary.shellcheck === "not installed") notices.unshift("ShellCheck is not installed: shell files were checked with opskit's rules only (apt-get install shellcheck, or brew install shellcheck)");
  if (notices.length > 0) {
    if (out.length > 0) out.push("");
    out.push(...notices.map((n) => `note: ${n}`));
  }
  if (out.length > 0) out.push("");
  out.push(summaryLine(report));
  return `${out.join("\n")}\n`;
}

const location = (f: Finding) => `${f.file}:${f.line}:${f.column}`;

/** For tools: one JSON object with the summary, findings, suppressed findings and notices. */
export function renderJson(report: AuditReport): string {
  const strip = ({ suppressed: _, ...rest }: Finding) => rest;
  return `${JSON.stringify(
    {
      summary: report.summary,
      findings: report.findings.map(strip),
      suppressed: report.suppressed.map((f) => ({ ...strip(f), reason: f.suppressed!.reason, suppressedAt: f.suppressed!.line })),
      notices: report.notices,
      ...(report.shellcheckVersion ? { shellcheckVersion: report.shellcheckVersion } : {}),
    },
    null,
    2,
  )}\n`;
}
