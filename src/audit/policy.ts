/*
 * The org policy, as the static audit reads it. The policy file format, its
 * loader, the glob matcher and the shell scan are the engine's
 * (src/engine/permissions.ts), the very code the run-time check uses, so
 * the audit reports what a run would deny. What this file adds is what only
 * a static check needs: where each policy rule sits in its file, and
 * matching before `{{ }}` templates are rendered (a template may render to
 * anything, so it matches like `*`).
 *
 *   deny:
 *     commands: ["rm -rf *", "curl * | sh"]  # globs over a whole command
 *     hosts: "env=prod,role=db"              # targets no workflow may act on
 *     http: ["http://*"]                     # globs over a URL
 *     sudo: true                             # no command may use sudo
 *   require:
 *     permissions: true                      # every workflow declares permissions
 *
 * Globs: `*` any run of characters (spaces and slashes included), `?` one
 * character, `\*` `\?` `\\` themselves; a glob matches the whole (trimmed) text.
 */
import { resolve } from "node:path";
import { readYamlDocument, type ConfigPath } from "../config/index.ts";
import { loadPolicy as loadEnginePolicy, matchGlob, scanCommand, sudoIn, type Policy } from "../engine/index.ts";
import { usageError } from "../errors.ts";
import { parseSelector, type Selector } from "../inventory/index.ts";

export { matchGlob, type Policy };

/** A policy as the engine loads it, plus the positions of its rules and its parsed deny.hosts. */
export interface AuditPolicy extends Policy {
  /** "file:line:col" of a key, e.g. where(["deny", "commands", 0]). */
  where(path: ConfigPath): string;
  hostSelector?: Selector;
}

/**
 * Loads a policy file with the engine's loader (validation errors name
 * file:line:col and exit 65); a path that does not exist exits 64.
 */
export async function loadPolicy(path: string, cwd = process.cwd()): Promise<AuditPolicy> {
  const file = Bun.file(resolve(cwd, path));
  if (!(await file.exists())) throw usageError("E_POLICY_NOT_FOUND", `policy file not found: ${path}`, "pass --policy an existing YAML file with deny: and require: keys");
  const policy = await loadEnginePolicy(path, cwd);
  const doc = readYamlDocument(await file.text(), policy.source);
  return { ...policy, where: (at) => doc.where(at, "value"), ...(policy.deny.hosts !== undefined ? { hostSelector: parseSelector(policy.deny.hosts) } : {}) };
}

/** A policy rule that applies: its name, glob and position in the policy file. */
export interface PolicyHit {
  rule: string;
  pattern: string;
  at: string;
}

type Token = { kind: "star" } | { kind: "one" } | { kind: "char"; char: string };

/** A glob's tokens, as the engine's matchGlob reads them (trimmed; runs of `*` are one). */
function globTokens(pattern: string): Token[] {
  const chars = Array.from(pattern.trim());
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const next = chars[i + 1];
    if (c === "\\" && (next === "*" || next === "?" || next === "\\")) {
      tokens.push({ kind: "char", char: next });
      i++;
    } else if (c === "*") {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === "?") tokens.push({ kind: "one" });
    else tokens.push({ kind: "char", char: c });
  }
  return tokens;
}

/** Unrendered text: each `{{ ... }}` is a `*`, everything else itself. */
function templateTokens(text: string): Token[] {
  const tokens: Token[] = [];
  const parts = text.trim().split(/(\{\{.*?\}\})/s);
  parts.forEach((part, i) => {
    if (i % 2 === 1) tokens.push({ kind: "star" });
    else for (const char of part) tokens.push({ kind: "char", char });
  });
  return tokens;
}

/**
 * Whether some text matches both: a glob against unrendered text asks
 * whether any rendering could match; a glob against a glob whether they
 * overlap. A search over position pairs, O(|a|·|b|), no backtracking.
 */
function intersect(a: readonly Token[], b: readonly Token[]): boolean {
  const width = b.length + 1;
  const seen = new Uint8Array((a.length + 1) * width);
  const stack = [0];
  seen[0] = 1;
  const push = (i: number, j: number) => {
    const key = i * width + j;
    if (!seen[key]) {
      seen[key] = 1;
      stack.push(key);
    }
  };
  while (stack.length > 0) {
    const key = stack.pop()!;
    const i = Math.floor(key / width);
    const j = key % width;
    if (i === a.length && j === b.length) return true;
    const x = a[i];
    const y = b[j];
    if (x?.kind === "star") {
      push(i + 1, j);
      if (y) push(i, j + 1);
    }
    if (y?.kind === "star") {
      push(i, j + 1);
      if (x) push(i + 1, j);
    }
    if (x && y && x.kind !== "star" && y.kind !== "star" && (x.kind === "one" || y.kind === "one" || x.char === y.char)) push(i + 1, j + 1);
  }
  return false;
}

/** Whether a glob could match the text once its templates render. */
export function couldMatch(glob: string, templated: string): boolean {
  return intersect(globTokens(glob), templateTokens(templated));
}

/** Whether some text matches both globs. */
export function globsOverlap(a: string, b: string): boolean {
  return intersect(globTokens(a), globTokens(b));
}

const hitAt = (policy: AuditPolicy, kind: "commands" | "http", index: number): PolicyHit => ({
  rule: `deny.${kind}[${index}]`,
  pattern: policy.deny[kind]![index]!,
  at: policy.where(["deny", kind, index]),
});

/**
 * The deny.commands glob (or deny.sudo) an unrendered command could hit. The
 * forms matched are the engine's: the command as written and with its
 * quoting removed and blanks collapsed.
 */
export function deniedCommand(policy: AuditPolicy, command: string): PolicyHit | undefined {
  const forms = [command.trim(), scanCommand(command.trim()).unquoted.trim()];
  const index = (policy.deny.commands ?? []).findIndex((glob) => forms.some((form) => couldMatch(glob, form)));
  if (index >= 0) return hitAt(policy, "commands", index);
  const root = policy.deny.sudo === true ? sudoIn(command) : undefined;
  return root ? { rule: "deny.sudo", pattern: root, at: policy.where(["deny", "sudo"]) } : undefined;
}

/** The deny.http glob an unrendered URL could hit. */
export function deniedUrl(policy: AuditPolicy, url: string): PolicyHit | undefined {
  const index = (policy.deny.http ?? []).findIndex((glob) => couldMatch(glob, url));
  return index >= 0 ? hitAt(policy, "http", index) : undefined;
}

/** The deny glob that a permissions glob overlaps: the workflow claims something the policy forbids. */
export function deniedGlob(policy: AuditPolicy, kind: "commands" | "http", allowed: string): PolicyHit | undefined {
  const index = (policy.deny[kind] ?? []).findIndex((glob) => globsOverlap(glob, allowed));
  return index >= 0 ? hitAt(policy, kind, index) : undefined;
}
