/*
 * The org policy, as the static audit reads it: the same file, globs and
 * shell scan as the run-time check (guard.ts), so the audit reports what a
 * run would deny. What this adds is what only a static check needs: where
 * each rule sits in its file, and matching before `{{ }}` templates render
 * (a template may render to anything, so it matches like `*`).
 *
 *   deny:
 *     commands: ["rm -rf *", "curl * | sh"]  # globs over a whole command
 *     hosts: "env=prod,role=db"              # targets no workflow may act on
 *     http: ["http://*"]                     # globs over a URL
 *     kube: ["delete *"]                     # globs over VERB [NAMESPACE/]KIND/NAME
 *     sudo: true                             # no command may use sudo
 *   require:
 *     permissions: true                      # every workflow declares permissions
 */
import type { ConfigPath } from "../schema/index.ts";
import type { Selector } from "../inventory/index.ts";
import { scanCommand, sudoIn } from "./command-scan.ts";
import { shellTemplateRoles, splitTemplate } from "../expr/index.ts";
import { couldMatch, couldMatchCommand, globsOverlap, templatePlaceholder } from "./globs.ts";
import type { Policy } from "./types.ts";

/** A policy as the run-time check loads it, plus the positions of its rules' values and its parsed deny.hosts. */
export interface AuditPolicy extends Policy {
  /** "file:line:col" of a key's value, e.g. where(["deny", "commands", 0]). */
  where(path: ConfigPath): string;
  hostSelector?: Selector;
}

/**
 * Loads a policy file as the run-time check does (validation errors name
 * file:line:col and exit 65); a path that does not exist exits 64.
 */
export async function loadAuditPolicy(path: string, cwd = process.cwd()): Promise<AuditPolicy> {
  const [{ resolve }, { usageError }, { parseSelector }] = await Promise.all([import("node:path"), import("../errors.ts"), import("../inventory/index.ts")]);
  if (!(await Bun.file(resolve(cwd, path)).exists())) throw usageError("E_POLICY_NOT_FOUND", `policy file not found: ${path}`, "pass --policy an existing YAML file with deny: and require: keys");
  const { policy, doc } = await (await import("./file.ts")).readPolicyFile(path, cwd);
  return { ...policy, where: (at) => doc.where(at, "value"), ...(policy.deny.hosts !== undefined ? { hostSelector: parseSelector(policy.deny.hosts) } : {}) };
}

/** A policy rule that applies: its name, glob and position in the policy file. */
export interface PolicyHit {
  rule: string;
  pattern: string;
  at: string;
}

const hitAt = (policy: AuditPolicy, kind: "commands" | "http" | "kube", index: number): PolicyHit => ({
  rule: `deny.${kind}[${index}]`,
  pattern: policy.deny[kind]![index]!,
  at: policy.where(["deny", kind, index]),
});

/**
 * The deny.commands glob (or deny.sudo) an unrendered command could hit. The
 * forms matched are the run-time check's: the command as written and with its
 * quoting removed and blanks collapsed.
 */
export function deniedCommand(policy: AuditPolicy, command: string): PolicyHit | undefined {
  const index = (policy.deny.commands ?? []).findIndex(commandMatcher(command));
  if (index >= 0) return hitAt(policy, "commands", index);
  const root = policy.deny.sudo === true ? sudoIn(command) : undefined;
  return root ? { rule: "deny.sudo", pattern: root, at: policy.where(["deny", "sudo"]) } : undefined;
}

/**
 * How a deny glob is tried against a templated command: a value that stays
 * data is one argument, or part of one, whatever it holds (the engine passes it
 * as a variable the command references), so it cannot supply a blank, an
 * operator or a command: `echo {{ vars.version }}` never runs `rm -rf /`, while
 * `rm -rf {{ vars.dir }}` can, and `{{ vars.cmd }}` or `sh -c "{{ vars.x }}"`
 * may run anything.
 */
function commandMatcher(command: string): (glob: string) => boolean {
  let roles: ("data" | "code")[];
  let marked = "";
  try {
    roles = shellTemplateRoles(command);
    let n = 0;
    for (const piece of splitTemplate(command, "command")) marked += "literal" in piece ? piece.literal : templatePlaceholder(n++);
  } catch {
    // A {{ without its }}: opskit validate refuses it; read every template as able to render to anything.
    const forms = [command.trim(), scanCommand(command.trim()).unquoted.trim()];
    return (glob) => forms.some((form) => couldMatch(glob, form));
  }
  const forms = [marked.trim(), scanCommand(marked.trim()).unquoted.trim()];
  return (glob) => forms.some((form) => couldMatchCommand(glob, form, roles));
}

/** The deny.http glob an unrendered URL could hit. */
export function deniedUrl(policy: AuditPolicy, url: string): PolicyHit | undefined {
  const index = (policy.deny.http ?? []).findIndex((glob) => couldMatch(glob, url));
  return index >= 0 ? hitAt(policy, "http", index) : undefined;
}

/**
 * The deny.kube glob an unrendered Kubernetes operation could hit, given as
 * its subject forms (`VERB TYPE/NAME`, `VERB NAMESPACE/TYPE/NAME`, with
 * templates). The type is as the step writes it: the run-time check also
 * tries the spellings the server knows it by.
 */
export function deniedKube(policy: AuditPolicy, forms: readonly string[]): PolicyHit | undefined {
  const index = (policy.deny.kube ?? []).findIndex((glob) => forms.some((form) => couldMatch(glob, form)));
  return index >= 0 ? hitAt(policy, "kube", index) : undefined;
}

/** The deny glob that a permissions glob overlaps: the workflow claims something the policy forbids. */
export function deniedGlob(policy: AuditPolicy, kind: "commands" | "http" | "kube", allowed: string): PolicyHit | undefined {
  const index = (policy.deny[kind] ?? []).findIndex((glob) => globsOverlap(glob, allowed));
  return index >= 0 ? hitAt(policy, kind, index) : undefined;
}
