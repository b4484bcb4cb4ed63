import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { compileGlob, type Glob } from "../glob/index.ts";
import { configError, usageError } from "../errors.ts";
import { readBounded } from "./discover.ts";
import type { Severity } from "./types.ts";

/*
 * `.opskit-audit.yaml`: a project's own settings for the audit, found like
 * ShellCheck's .shellcheckrc: for each file, the nearest one in its directory
 * or a parent, up to the root of the git work tree it sits in (the directory
 * holding .git). The nearest file wins; files are not merged.
 *
 *   exclude: [OPS-SH-005, SC2086]     # rules not reported here (as --exclude)
 *   severity: { OPS-SH-006: error }   # a rule's severity here: error, warning or note
 *   skip: ["vendor", "*.gen.sh"]      # paths not audited, relative to this file
 */

export const configName = ".opskit-audit.yaml";

export interface AuditConfig {
  /** Path of the file, as shown in messages. */
  file: string;
  dir: string;
  exclude: ReadonlySet<string>;
  severity: ReadonlyMap<string, Severity>;
  skip: readonly Glob[];
}

/** A ShellCheck code: any is accepted (ShellCheck adds codes); an opskit id must be one the audit knows. */
const shellcheckCode = /^SC\d{4}$/;

/** Rule ids as given (case aside), each checked against the known ones; a typo is an error naming the nearest known ids. */
export function readRuleIds(given: readonly string[], known: ReadonlySet<string>, fail: (id: string, hint: string) => never): Set<string> {
  const ids = new Set<string>();
  for (const item of given) {
    for (const part of item.split(",")) {
      const id = part.trim().toUpperCase();
      if (id === "") continue;
      if (!known.has(id) && !shellcheckCode.test(id)) {
        const family = id.replace(/-?\d*$/, "");
        const near = [...known].filter((k) => k.startsWith(family)).sort();
        fail(id, `rule ids look like OPS-SH-002 or SC2086${near.length > 0 ? `; ${family} has ${near.join(", ")}` : ""}`);
      }
      ids.add(id);
    }
  }
  return ids;
}

/** `--exclude` as given on the command line: a usage error (64) for an unknown id. */
export function excludedByFlag(given: readonly string[], known: ReadonlySet<string>): Set<string> {
  return readRuleIds(given, known, (id, hint) => {
    throw usageError("E_AUDIT_RULE", `--exclude: no rule ${id}`, hint);
  });
}

/** Reads and checks one config file; a problem is an error (65) at file:line:col with a hint. */
export async function readAuditConfig(path: string, shown: string, known: ReadonlySet<string>): Promise<AuditConfig> {
  const [{ z }, { readYamlDocument, validateYaml }] = await Promise.all([import("zod"), import("../schema/index.ts")]);
  const text = readBounded(path, 1024 * 1024)?.toString("utf8");
  if (text === undefined) throw configError("E_AUDIT_CONFIG", `cannot read ${shown}`, `make ${configName} a readable regular file, or remove it`);
  const doc = readYamlDocument(text, shown);
  const schema = z
    .object({
      exclude: z.array(z.string().min(1)).optional().describe("rule ids not reported, e.g. [OPS-SH-005, SC2086]"),
      severity: z.record(z.string(), z.enum(["error", "warning", "note"])).optional().describe("a rule's severity, e.g. { OPS-SH-006: error }"),
      skip: z.array(z.string().min(1)).optional().describe("paths not audited, globs relative to this file, e.g. [vendor, '*.gen.sh']"),
    })
    .strict();
  const value = validateYaml(doc.value ?? {}, schema, doc.where);
  const fail = (path: (string | number)[]) => (id: string, hint: string): never => {
    throw configError("E_AUDIT_CONFIG", `${doc.where(path, "key")}: no rule ${id}`, hint);
  };
  const exclude = new Set<string>();
  (value.exclude ?? []).forEach((id, i) => readRuleIds([id], known, fail(["exclude", i])).forEach((r) => exclude.add(r)));
  const severity = new Map<string, Severity>();
  for (const [id, level] of Object.entries(value.severity ?? {})) for (const r of readRuleIds([id], known, fail(["severity", id]))) severity.set(r, level);
  const skip = (value.skip ?? []).map((pattern) => compileGlob(pattern.replace(/^\.?\/+/, "").replace(/\/+$/, ""), { escapes: "all" }));
  return { file: shown, dir: dirname(path), exclude, severity, skip };
}

/** Finds and reads the config that governs each directory, once per directory. */
export class AuditConfigs {
  private readonly byDir = new Map<string, Promise<AuditConfig | undefined>>();

  constructor(
    private readonly known: ReadonlySet<string>,
    private readonly shown: (path: string) => string,
  ) {}

  /** The config nearest to a directory, looking up to the git work tree's root (or the file system's). */
  forDir(dir: string): Promise<AuditConfig | undefined> {
    let pending = this.byDir.get(dir);
    if (!pending) {
      const candidate = join(dir, configName);
      const parent = dirname(dir);
      if (existsSync(candidate)) pending = readAuditConfig(candidate, this.shown(candidate), this.known);
      else if (existsSync(join(dir, ".git")) || parent === dir) pending = Promise.resolve(undefined);
      else pending = this.forDir(parent);
      this.byDir.set(dir, pending);
    }
    return pending;
  }
}

/**
 * Whether a config's skip globs cover a path (a file, or a directory and so
 * all under it). As in .gitignore, a glob without a slash names a file or
 * directory at any depth; one with a slash is a path from the config's
 * directory, and covers what is under the directories it matches. `*` may
 * span slashes (the one glob matcher's `*`).
 */
export function skippedBy(config: AuditConfig | undefined, path: string): boolean {
  if (!config || config.skip.length === 0) return false;
  const rel = relative(config.dir, path).split("\\").join("/");
  if (rel === "" || rel.startsWith("../")) return false;
  const parts = rel.split("/");
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  return config.skip.some((glob) => (glob.pattern.includes("/") ? prefixes.some((p) => glob.test(p)) : parts.some((part) => glob.test(part))));
}
