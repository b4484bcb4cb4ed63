import type { ProbeResult } from "../../probe/index.ts";

const escapeXml = (text: string) =>
  text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!)
    // XML 1.0 forbids most control characters even when escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");

/**
 * A JUnit XML report: one testcase per target. Unhealthy targets are
 * <failure> (the check failed), unreachable ones <error> (it could not run),
 * as CI systems distinguish the two.
 */
export function junitReport(results: readonly ProbeResult[], durationMs: number, timestamp: string): string {
  const failures = results.filter((r) => r.verdict === "unhealthy").length;
  const errors = results.filter((r) => r.verdict === "down" || r.verdict === "interrupted").length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const cases = results.map((r) => {
    const open = `    <testcase classname="opskit.probe.${r.kind}" name="${escapeXml(r.name)}" time="${seconds(r.timings.total)}"`;
    const detail = escapeXml(
      [`target: ${r.target}`, `attempts: ${r.attempts.length}`, ...r.attempts.map((a) => `  #${a.attempt} ${a.verdict}${a.reason ? `: ${a.reason}` : ""}`)].join("\n"),
    );
    if (r.verdict === "healthy") return `${open}/>`;
    const tag = r.verdict === "unhealthy" ? "failure" : "error";
    const type = r.error?.code ?? (r.verdict === "unhealthy" ? "E_UNHEALTHY" : "E_DOWN");
    return `${open}>\n      <${tag} message="${escapeXml(r.reason ?? r.verdict)}" type="${escapeXml(type)}">${detail}</${tag}>\n    </testcase>`;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="opskit probe" tests="${results.length}" failures="${failures}" errors="${errors}" time="${seconds(durationMs)}">`,
    `  <testsuite name="opskit probe" tests="${results.length}" failures="${failures}" errors="${errors}" skipped="0" time="${seconds(durationMs)}" timestamp="${timestamp}">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}
