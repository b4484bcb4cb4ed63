import type { AuditPolicy } from "../policy/index.ts";

/** How bad a finding is; `--fail-on` compares against this order. */
export type Severity = "error" | "warning" | "note";
export const severityRank: Record<Severity, number> = { note: 1, warning: 2, error: 3 };

/** What kind of file a rule set reads. */
export type Language = "shell" | "python" | "workflow";

/** One check: what it finds, why that is risky and what to do instead. */
export interface Rule {
  /** Stable id, e.g. "OPS-SH-001"; ShellCheck's own are "SC2086". */
  id: string;
  severity: Severity;
  /** A few words naming the rule (SARIF shortDescription). */
  title: string;
  /** One line: why the pattern is risky (SARIF fullDescription). */
  why: string;
  /** What to write instead. */
  fix: string;
  helpUri?: string;
  /**
   * ShellCheck codes that report the same thing on the same line; when both
   * fire, opskit's finding (which carries the ops-specific fix) is kept.
   */
  supersedes?: readonly string[];
}

/** What a rule reports; the audit adds the file, severity, fix and source line. */
export interface Hit {
  rule: string;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units of the line. */
  column: number;
  message: string;
  /** A span of the source line to mask in the report (a secret's value): 1-based column and length. */
  redact?: { column: number; length: number };
}

export interface Finding {
  /** Path relative to the scan root (absolute when outside it). */
  file: string;
  line: number;
  column: number;
  rule: string;
  severity: Severity;
  message: string;
  fix: string;
  /** The source line, as written (without its line break). */
  source: string;
  /** Stable across runs while the line stays the same, wherever it moves (baseline.ts); SARIF's partialFingerprints. */
  fingerprint?: string;
  /** Set when an `# opskit-audit: ignore RULE reason` comment covers the finding. */
  suppressed?: { reason: string; line: number };
}

/** A file the audit reads. */
export interface SourceFile {
  /** Absolute path. */
  path: string;
  /** Path shown in findings: relative to the scan root when inside it. */
  display: string;
  language: Language;
  /** For shell files: the interpreter named by the #! line (sh, bash, dash, ksh, zsh), if any. */
  dialect?: string;
  text: string;
}

/** What rules may need beyond the file itself. */
export interface AuditContext {
  /** The org policy given with --policy (else a config's own `policy:` applies). */
  policy?: AuditPolicy;
  /**
   * defaults.stepTimeout as set elsewhere in the config the file belongs to
   * (an opskit.d/ file shares the defaults of its siblings).
   */
  stepTimeoutOf(file: SourceFile): string | undefined;
}

/** The rules for one language: one file under rules/, one entry in the registry. */
export interface RuleSet {
  language: Language;
  rules: readonly Rule[];
  check(file: SourceFile, context: AuditContext): Hit[] | Promise<Hit[]>;
}
