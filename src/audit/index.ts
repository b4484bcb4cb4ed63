// opskit audit: finds risky ops patterns in shell and Python scripts and in
// opskit workflows (piping downloads to a shell, unguarded rm -rf, host keys
// off, fleet-wide restarts without a failure budget...), checks workflows
// against an org policy, and merges ShellCheck's findings into one report.
import { policyRules } from "./rules/policy.ts";
import { pythonRules } from "./rules/python.ts";
import { shellRules } from "./rules/shell.ts";
import { workflowRules } from "./rules/workflow.ts";
import { auditFiles, type AuditOptions, type AuditReport, type Registry } from "./run.ts";
import { suppressionRules } from "./suppress.ts";

/** The rule sets per language: adding a language is one file under rules/ and one entry here. */
export const registry: Registry = {
  shell: [shellRules],
  python: [pythonRules],
  workflow: [workflowRules, policyRules],
};

/** The ids of every opskit rule (what --exclude and .opskit-audit.yaml may name, besides ShellCheck's SC codes). */
export function knownRules(): Set<string> {
  return new Set([...Object.values(registry).flat().flatMap((set) => set.rules), ...suppressionRules].map((rule) => rule.id));
}

/** Audits the files under the paths with every registered rule set (and ShellCheck, when installed). */
export function runAudit(options: AuditOptions): Promise<AuditReport> {
  return auditFiles(options, registry);
}

export { failsAt, countLines, type AuditOptions, type AuditReport, type AuditSummary } from "./run.ts";
export { renderText, renderJson, summaryLine } from "./render.ts";
export { renderSarif, sarifSchemaUri } from "./sarif.ts";
export { loadAuditPolicy as loadPolicy, matchGlob, couldMatch, globsOverlap, type AuditPolicy, type Policy } from "../policy/index.ts";
export { classify, interpreterOf } from "./discover.ts";
export { excludedByFlag, configName } from "./config.ts";
export { readBaseline, fingerprintKey } from "./baseline.ts";
export { helpUriOf, ruleDocPath, ruleDocsBase } from "./rule-docs.ts";
export { entropyThreshold, shannonEntropy } from "./rules/secrets.ts";
export type { Finding, Hit, Language, Rule, RuleSet, Severity, SourceFile, AuditContext } from "./types.ts";
