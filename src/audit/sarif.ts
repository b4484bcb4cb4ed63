import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import pkg from "../../package.json" with { type: "json" };
import { fingerprintKey } from "./baseline.ts";
import type { AuditReport } from "./run.ts";
import type { Finding, Rule } from "./types.ts";

/*
 * SARIF 2.1.0 (OASIS), the format code-scanning services read: one run whose
 * driver lists every rule, results pointing at files relative to the scan
 * root (uriBaseId SRCROOT), in-source suppressions as `suppressions`, each
 * result's fingerprint as partialFingerprints, and each rule's page as helpUri.
 * https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 */

export const sarifSchemaUri = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

export function renderSarif(report: AuditReport): string {
  const rules = report.rules.slice().sort((a, b) => (a.id < b.id ? -1 : 1));
  const index = new Map(rules.map((rule, i) => [rule.id, i]));
  const results = [...report.findings, ...report.suppressed].map((finding) => result(finding, index.get(finding.rule), report.baseline));
  const notices = [...report.notices];
  if (report.summary.shellcheck === "not installed") notices.unshift("ShellCheck is not installed: shell files were checked with opskit's rules only");
  const log = {
    $schema: sarifSchemaUri,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "opskit",
            version: pkg.version,
            semanticVersion: pkg.version,
            rules: rules.map(descriptor),
          },
          ...(report.shellcheckVersion ? { extensions: [{ name: "ShellCheck", version: report.shellcheckVersion, informationUri: "https://www.shellcheck.net" }] } : {}),
        },
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: notices.map((text) => ({ level: "note", message: { text } })),
          },
        ],
        originalUriBaseIds: { SRCROOT: { uri: pathToFileURL(join(report.root, "/")).href } },
        columnKind: "utf16CodeUnits",
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

function descriptor(rule: Rule): Record<string, unknown> {
  const shellcheck = rule.id.startsWith("SC");
  return {
    id: rule.id,
    ...(shellcheck ? {} : { name: rule.title.replace(/(?:^|[\s-]+)(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, "") }),
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.why },
    help: { text: shellcheck ? `ShellCheck ${rule.id}: ${rule.why} See ${rule.helpUri}.` : `${rule.why}\nFix: ${rule.fix}`, markdown: shellcheck ? `ShellCheck [${rule.id}](${rule.helpUri}): ${rule.why}` : `${rule.why}\n\n**Fix:** ${rule.fix}` },
    ...(rule.helpUri ? { helpUri: rule.helpUri } : {}),
    defaultConfiguration: { level: rule.severity },
    properties: { tags: shellcheck ? ["shellcheck"] : ["security", "ops"] },
  };
}

function result(finding: Finding, ruleIndex: number | undefined, againstBaseline: boolean): Record<string, unknown> {
  const inRoot = !isAbsolute(finding.file);
  return {
    ruleId: finding.rule,
    ...(ruleIndex !== undefined ? { ruleIndex } : {}),
    level: finding.severity,
    message: { text: `${finding.message}. Fix: ${finding.fix}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: inRoot ? { uri: finding.file.split("/").map(encodeURIComponent).join("/"), uriBaseId: "SRCROOT" } : { uri: pathToFileURL(finding.file).href },
          region: { startLine: finding.line, startColumn: finding.column, ...(finding.source ? { snippet: { text: finding.source } } : {}) },
        },
      },
    ],
    ...(finding.fingerprint ? { partialFingerprints: { [fingerprintKey]: finding.fingerprint } } : {}),
    // Findings the baseline held are left out; the ones reported are new.
    ...(againstBaseline && !finding.suppressed ? { baselineState: "new" } : {}),
    suppressions: finding.suppressed ? [{ kind: "inSource", justification: finding.suppressed.reason }] : [],
  };
}
