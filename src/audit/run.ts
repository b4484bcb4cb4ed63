import { readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { readYamlDocument } from "../schema/index.ts";
import { baselineKey, fingerprint, type Baseline } from "./baseline.ts";
import { AuditConfigs, skippedBy, type AuditConfig } from "./config.ts";
import { discoverFiles, readBounded, type PathFilter } from "./discover.ts";
import { ignoreRulesFor, type IgnoreRules } from "./ignore.ts";
import { helpUriOf } from "./rule-docs.ts";
import type { AuditPolicy } from "../policy/index.ts";
import { runShellCheck, type ShellCheckOutcome } from "./shellcheck.ts";
import { readSuppressions, suppressionFor, suppressionRules } from "./suppress.ts";
import { severityRank, type AuditContext, type Finding, type Hit, type Language, type Rule, type RuleSet, type Severity, type SourceFile } from "./types.ts";
import { isMap } from "./workflow-file.ts";

export interface AuditOptions {
  /** Files and directories; default: the root. */
  paths?: readonly string[];
  /** Scan root: paths are resolved and findings shown relative to it (default: the current directory). */
  root?: string;
  /** Run ShellCheck when it is installed (default true). */
  shellcheck?: boolean;
  shellcheckBin?: string;
  shellcheckTimeoutMs?: number;
  policy?: AuditPolicy;
  signal?: AbortSignal;
  /** Rules not reported anywhere (--exclude), upper-cased. */
  exclude?: ReadonlySet<string>;
  /** Audit files that version control ignores too (--no-ignore); default: skip them. */
  noIgnore?: boolean;
  /** Findings of a saved SARIF log (--baseline): only findings not in it are reported. */
  baseline?: Baseline;
}

export interface AuditSummary {
  findings: number;
  errors: number;
  warnings: number;
  notes: number;
  suppressed: number;
  files: number;
  lines: number;
  shellcheck: ShellCheckOutcome["status"];
  /** With a baseline: the findings it already held, left out of `findings`. */
  baselined?: number;
}

export interface AuditReport {
  root: string;
  /** Findings no suppression covers, by file, line and column. */
  findings: Finding[];
  /** Findings an `# opskit-audit: ignore` comment covers, each with its reason. */
  suppressed: Finding[];
  /** With a baseline: whether one was given (findings then holds only new ones). */
  baseline: boolean;
  /** The .opskit-audit.yaml files that applied, as shown. */
  configs: string[];
  /** Every rule a finding could name: opskit's own and the ShellCheck codes seen. */
  rules: Rule[];
  notices: string[];
  summary: AuditSummary;
  shellcheckVersion?: string;
  /** Per language: files and lines read. */
  languages: Record<Language, { files: number; lines: number }>;
}

export type Registry = Readonly<Record<Language, readonly RuleSet[]>>;

/** Reads the files under the paths, runs every rule set of their language and ShellCheck, and applies suppressions. */
export async function auditFiles(options: AuditOptions, registry: Registry): Promise<AuditReport> {
  const root = options.root ?? process.cwd();
  const known = new Set([...Object.values(registry).flat().flatMap((set) => set.rules), ...suppressionRules].map((rule) => rule.id));
  const configs = new AuditConfigs(known, (path) => display(root, path));
  const configOf = (path: string): Promise<AuditConfig | undefined> => configs.forDir(dirname(path));
  const discovered = await discoverFiles(options.paths && options.paths.length > 0 ? options.paths : ["."], root, leftOutBy(configOf, !options.noIgnore));
  const notices = discovered.skipped.map((path) => `skipped ${display(root, path)}: not a shell or Python script, nor an opskit config with workflows:`);
  for (const { path, kind } of discovered.special) notices.push(`skipped ${display(root, path)}: ${kind}, not a regular file`);
  const files: SourceFile[] = [];
  for (const c of discovered.files) {
    // At most one byte past the limit is read, whatever stat said: a file may grow after it was listed.
    const bytes = readBounded(c.path, maxFileBytes + 1);
    // A script this large is an installer with an archive appended, not something a person reviews line by line.
    if (bytes && bytes.length > maxFileBytes) notices.push(`skipped ${display(root, c.path)}: larger than ${maxFileBytes / 1024 / 1024} MiB`);
    else files.push({ path: c.path, display: display(root, c.path), language: c.language, ...(c.dialect ? { dialect: c.dialect } : {}), text: bytes?.toString("utf8") ?? "" });
  }
  const shellFiles = files.filter((f) => f.language === "shell");
  // ShellCheck runs in its own processes while opskit's rules run here.
  const shellcheck: Promise<ShellCheckOutcome> =
    options.shellcheck === false
      ? Promise.resolve({ status: "disabled", findings: [], rules: [], notices: [] })
      : runShellCheck(shellFiles, { ...(options.shellcheckBin ? { bin: options.shellcheckBin } : {}), ...(options.shellcheckTimeoutMs ? { timeoutMs: options.shellcheckTimeoutMs } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const context: AuditContext = { ...(options.policy ? { policy: options.policy } : {}), stepTimeoutOf: stepTimeouts() };
  const rules = new Map<string, Rule>();
  for (const rule of [...Object.values(registry).flat().flatMap((set) => set.rules), ...suppressionRules]) rules.set(rule.id, { ...rule, helpUri: helpUriOf(rule) });
  const perFile = new Map<string, { lines: string[]; hits: Hit[] }>();
  const languages: AuditReport["languages"] = { shell: { files: 0, lines: 0 }, python: { files: 0, lines: 0 }, workflow: { files: 0, lines: 0 } };
  for (const file of files) {
    const lines = file.text.split("\n");
    const hits: Hit[] = [];
    for (const set of registry[file.language]) hits.push(...(await set.check(file, context)));
    perFile.set(file.display, { lines: maskSecrets(lines, hits), hits });
    languages[file.language].files++;
    languages[file.language].lines += countLines(file.text);
  }
  const checked = await shellcheck;
  for (const rule of checked.rules) rules.set(rule.id, rule);
  const all: Finding[] = [];
  for (const [name, { lines, hits }] of perFile) all.push(...hits.map((hit) => findingOf(name, hit, lines, rules)));
  const opskitLines = new Set(all.map((f) => `${f.file}:${f.line}:${f.rule}`));
  for (const finding of checked.findings) {
    // Where opskit's rule reports the same thing, its finding (with the ops fix) stands for both.
    const superseded = [...rules.values()].some((r) => r.supersedes?.includes(finding.rule) && opskitLines.has(`${finding.file}:${finding.line}:${r.id}`));
    if (!superseded) all.push({ ...finding, source: perFile.get(finding.file)?.lines[finding.line - 1]?.replace(/\r$/, "") ?? "" });
  }
  const applied = await applyConfigs(applySuppressions(all, perFile, rules), files, configOf, options.exclude);
  const ordered = (list: Finding[]) => list.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column || (a.rule < b.rule ? -1 : 1)));
  // Fingerprints count occurrences in file order, suppressed findings included, so that suppressing one does not renumber the others.
  fingerprint(ordered([...applied.findings, ...applied.suppressed]));
  const baseline = options.baseline;
  const findings = baseline ? applied.findings.filter((f) => !baseline.has(baselineKey(f.rule, f.fingerprint!))) : applied.findings;
  const suppressed = applied.suppressed;
  const count = (severity: Severity) => findings.filter((f) => f.severity === severity).length;
  const report: AuditReport = {
    root,
    findings: ordered(findings),
    suppressed: ordered(suppressed),
    baseline: baseline !== undefined,
    configs: applied.configs,
    rules: [...rules.values()],
    notices: [...notices, ...applied.configs.map((file) => `settings from ${file}`), ...checked.notices],
    summary: {
      findings: findings.length,
      errors: count("error"),
      warnings: count("warning"),
      notes: count("note"),
      suppressed: suppressed.length,
      files: files.length,
      lines: Object.values(languages).reduce((n, l) => n + l.lines, 0),
      shellcheck: checked.status,
      ...(baseline ? { baselined: applied.findings.length - findings.length } : {}),
    },
    languages,
  };
  if (checked.version) report.shellcheckVersion = checked.version;
  return report;
}

/**
 * The file's lines as findings show them: each secret a rule found is masked,
 * so that no finding on that line (ShellCheck's included) prints it.
 */
function maskSecrets(lines: readonly string[], hits: readonly Hit[]): string[] {
  const shown = lines.slice();
  const spans = hits.filter((h) => h.redact).sort((a, b) => b.redact!.column - a.redact!.column);
  for (const { line, redact } of spans) {
    const text = shown[line - 1];
    if (text === undefined) continue;
    const start = redact!.column - 1;
    shown[line - 1] = `${text.slice(0, start)}${"*".repeat(Math.min(8, redact!.length))}${text.slice(start + redact!.length)}`;
  }
  return shown;
}

function findingOf(file: string, hit: Hit, lines: readonly string[], rules: Map<string, Rule>): Finding {
  const rule = rules.get(hit.rule);
  const source = (lines[hit.line - 1] ?? "").replace(/\r$/, "");
  return { file, line: hit.line, column: hit.column, rule: hit.rule, severity: rule?.severity ?? "warning", message: hit.message, fix: rule?.fix ?? "", source };
}

function applySuppressions(all: Finding[], perFile: Map<string, { lines: string[] }>, rules: Map<string, Rule>): { findings: Finding[]; suppressed: Finding[] } {
  const findings: Finding[] = [];
  const suppressed: Finding[] = [];
  const declared = new Map<string, ReturnType<typeof readSuppressions>>();
  for (const [file, { lines }] of perFile) {
    const read = readSuppressions(lines);
    declared.set(file, read);
    findings.push(...read.hits.map((hit) => findingOf(file, hit, lines, rules)));
  }
  for (const finding of all) {
    const covering = suppressionFor(declared.get(finding.file)?.suppressions ?? [], finding.rule, finding.line);
    if (covering) suppressed.push({ ...finding, suppressed: { reason: covering.reason, line: covering.line } });
    else findings.push(finding);
  }
  return { findings, suppressed };
}

/**
 * What discovery leaves out: paths a config's skip globs cover, anywhere; and
 * while walking a directory, what version control ignores (a file named on
 * the command line is audited even so, as ripgrep searches it).
 */
function leftOutBy(configOf: (path: string) => Promise<AuditConfig | undefined>, respectIgnores: boolean): PathFilter {
  const ignores = new Map<string, Promise<IgnoreRules>>();
  return async (path, isDir, walkRoot) => {
    if (skippedBy(await configOf(path), path)) return true;
    if (!respectIgnores || walkRoot === undefined) return false;
    let rules = ignores.get(walkRoot);
    if (!rules) {
      // A directory named on the command line is walked even when it is itself ignored (what is below it then counts).
      rules = ignoreRulesFor(walkRoot).then((found) => (found.ignored(walkRoot, true) ? { ignored: () => false } : found));
      ignores.set(walkRoot, rules);
    }
    return (await rules).ignored(path, isDir);
  };
}

/** Each file's .opskit-audit.yaml and --exclude: excluded rules dropped, severities overridden. */
async function applyConfigs(
  { findings, suppressed }: { findings: Finding[]; suppressed: Finding[] },
  files: readonly SourceFile[],
  configOf: (path: string) => Promise<AuditConfig | undefined>,
  excluded: ReadonlySet<string> | undefined,
): Promise<{ findings: Finding[]; suppressed: Finding[]; configs: string[] }> {
  const pathOf = new Map(files.map((f) => [f.display, f.path]));
  const used = new Set<string>();
  for (const file of files) {
    const config = await configOf(file.path);
    if (config) used.add(config.file);
  }
  const apply = async (list: Finding[]): Promise<Finding[]> => {
    const kept: Finding[] = [];
    for (const finding of list) {
      const path = pathOf.get(finding.file);
      const config = path ? await configOf(path) : undefined;
      const rule = finding.rule.toUpperCase();
      if (excluded?.has(rule) || config?.exclude.has(rule)) continue;
      const severity = config?.severity.get(rule);
      kept.push(severity ? { ...finding, severity } : finding);
    }
    return kept;
  };
  return { findings: await apply(findings), suppressed: await apply(suppressed), configs: [...used].sort() };
}

/** Whether any finding is at or above the threshold. */
export function failsAt(report: AuditReport, threshold: Severity | "never"): boolean {
  if (threshold === "never") return false;
  return report.findings.some((f) => severityRank[f.severity] >= severityRank[threshold]);
}

function display(root: string, path: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split("\\").join("/") : path;
}

const maxFileBytes = 4 * 1024 * 1024;


export function countLines(text: string): number {
  if (text === "") return 0;
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return text.endsWith("\n") ? n : n + 1;
}

/**
 * defaults.stepTimeout set elsewhere in the config a file belongs to: for a
 * file in opskit.d/, any of its siblings' (they merge into one config).
 */
function stepTimeouts(): (file: SourceFile) => string | undefined {
  const byDir = new Map<string, string | undefined>();
  const own = (text: string): string | undefined => {
    try {
      const value = readYamlDocument(text, "").value;
      const defaults = isMap(value) ? value.defaults : undefined;
      return isMap(defaults) && typeof defaults.stepTimeout === "string" ? defaults.stepTimeout : undefined;
    } catch {
      return undefined;
    }
  };
  return (file) => {
    const dir = dirname(file.path);
    if (basename(dir) !== "opskit.d") return undefined;
    if (!byDir.has(dir)) {
      const names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n));
      byDir.set(dir, names.map((n) => own(readBounded(join(dir, n), maxFileBytes)?.toString("utf8") ?? "")).find((t) => t !== undefined));
    }
    return byDir.get(dir);
  };
}
