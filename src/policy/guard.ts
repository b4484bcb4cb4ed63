import type { Action, PermissionSubject } from "../actions/index.ts";
import type { Permissions } from "../config/index.ts";
import { configError, type OpsError } from "../errors.ts";
import { matchGlob } from "./globs.ts";
import { judgedSubject, type JudgedSubject } from "./subjects.ts";
import { PermissionDenied, type Denial, type DenialKind, type Guard, type GuardBecome, type PermissionOptions, type Policy } from "./types.ts";

/*
 * Run-time permissions: a workflow's `permissions:` (what it may do) and the
 * org policy file (what nobody may do), checked against every action just
 * before it runs, after rendering, so templated values are judged as they
 * will run. What an action touches, each action says (its `subjects` in the
 * actions registry). Selectors and the registry load on first use: the
 * policy module's face must stay light.
 */

const quoteList = (globs: readonly string[]) => (globs.length === 0 ? "none allowed" : `allowed: ${globs.map((g) => `'${g}'`).join(", ")}`);

type Deny = (kind: DenialKind, by: Denial["by"], rule: string, message: string, hint: string) => PermissionDenied;

interface Judge {
  at: string;
  permissions: Permissions | undefined;
  policy: Policy | undefined;
  deny: Deny;
  ownerHint: string;
}

/** A command or URL against the policy's denials first, then the workflow's allowances. */
function judge(subject: JudgedSubject, { at, permissions, policy, deny, ownerHint }: Judge): PermissionDenied | undefined {
  const policyName = policy?.source ?? "";
  const what = `${subject.label} "${subject.shown}"`;
  const denied = policy?.deny[subject.category];
  const hit = denied?.find((glob) => subject.forms.some((form) => matchGlob(glob, form)));
  if (hit !== undefined) return deny(subject.category, "policy", `deny.${subject.category} '${hit}'`, `${what} denied by ${policyName} deny.${subject.category} '${hit}'`, ownerHint);
  if (subject.category === "commands" && subject.sudo) {
    if (policy?.deny.sudo === true) return deny("sudo", "policy", "deny.sudo", `${what} uses ${subject.sudo}, denied by ${policyName} deny.sudo`, ownerHint);
    if (permissions && permissions.sudo !== true) {
      return deny("sudo", "workflow", "permissions.sudo", `${what} uses ${subject.sudo}, and ${at} does not allow it (permissions.sudo is not true)`, `set permissions.sudo: true in ${at} if it must run as root`);
    }
  }
  if (!permissions) return undefined;
  const allowed = permissions[subject.category] ?? [];
  if (allowed.some((glob) => subject.forms.some((form) => matchGlob(glob, form)))) return undefined;
  const list = `permissions.${subject.category}`;
  const shape = subject.category === "kube" ? "; kube globs match VERB KIND/NAME and VERB NAMESPACE/KIND/NAME, e.g. 'restart deployment/*'" : "";
  const hint = `${list} of ${at} lists what it may do; if this belongs there, add a glob for it (* any run of characters, ? one character, matched against the whole rendered value${shape})`;
  return deny(subject.category, "workflow", list, `${what} is not in ${list} of ${at} (${quoteList(allowed)})`, hint);
}

/** A command of a become step matches globs as written and as it runs, behind the become prefix. */
function becomeSubject(judged: JudgedSubject, subject: PermissionSubject, become: GuardBecome | undefined): JudgedSubject {
  if (!become || subject.category !== "commands") return judged;
  const wrapped = judgedSubject({ ...subject, command: `${become.become} ${subject.command.trim()}` });
  return { ...judged, forms: [...new Set([...judged.forms, ...wrapped.forms])], sudo: judged.sudo ?? become.method };
}

/**
 * Compiles a workflow's permissions and the org policy into one guard, or
 * nothing when neither applies. A workflow that declares permissions may do
 * only what they list (an undeclared category allows nothing); one without
 * them may do anything the policy does not deny, unless the policy requires
 * permissions. The policy's denials are checked first and always win.
 */
export async function compilePermissions(workflow: string, permissions: Permissions | undefined, policy: Policy | undefined, options: PermissionOptions): Promise<Guard | undefined> {
  if (!permissions && !policy) return undefined;
  const [{ parseSelector, matches }, { actions }] = await Promise.all([import("../inventory/index.ts"), import("../actions/index.ts")]);
  const registry: Readonly<Record<string, Action<any, any> | undefined>> = actions;
  const selector = (text: string | undefined, where: () => string) => {
    if (text === undefined) return undefined;
    try {
      return parseSelector(text);
    } catch (error) {
      throw configError("E_POLICY_SELECTOR", `${where()}: ${(error as Error).message}`, (error as OpsError).hint ?? "write a selector such as role=api,zone in (a,b)");
    }
  };
  const allowedHosts = selector(permissions?.hosts, () => options.where("hosts"));
  const deniedHosts = selector(policy?.deny.hosts, () => `${policy!.source} deny.hosts`);
  const at = `workflow ${workflow}`;
  const policyName = policy?.source ?? "";
  const ownerHint = `${policyName} holds the org's denials and no workflow can lift them: change the step, or ask whoever owns ${policyName}`;
  const deny: Deny = (kind, by, rule, message, hint) => new PermissionDenied({ workflow, kind, by, rule }, message, hint);
  const judged: Judge = { at, permissions, policy, deny, ownerHint };
  const requirePermissions = policy?.require.permissions === true && !permissions && !options.adHoc;

  return async (kind, rendered, target, become) => {
    const where = { name: target.name, labels: target.labels, groups: [...(target.groups ?? [])] };
    if (requirePermissions) {
      return deny("require", "policy", "require.permissions", `${at} declares no permissions, and ${policyName} require.permissions requires every workflow to`, `declare permissions: under workflows.${workflow} (commands, hosts, http, kube, sudo)`);
    }
    if (deniedHosts && matches(where, deniedHosts)) {
      return deny("hosts", "policy", `deny.hosts '${deniedHosts.text}'`, `target ${target.name} denied by ${policyName} deny.hosts '${deniedHosts.text}'`, ownerHint);
    }
    if (permissions && !(allowedHosts && matches(where, allowedHosts))) {
      const declared = allowedHosts ? `'${allowedHosts.text}'` : "none declared";
      return deny("hosts", "workflow", `permissions.hosts ${declared}`, `target ${target.name} is not in permissions.hosts of ${at} (${declared})`, `permissions.hosts of ${at} is a selector its targets must match (name=local for this machine; an empty one allows every target)`);
    }
    if (become) {
      const what = `${kind} step on ${target.name} runs as another user (${become.become})`;
      if (policy?.deny.sudo === true) return deny("sudo", "policy", "deny.sudo", `${what}, denied by ${policyName} deny.sudo`, ownerHint);
      if (permissions && permissions.sudo !== true) {
        return deny("sudo", "workflow", "permissions.sudo", `${what}, and ${at} does not allow it (permissions.sudo is not true)`, `set permissions.sudo: true in ${at} if it must run as another user`);
      }
    }
    // A step whose action was replaced (a shadow fallback) renders nothing to check here.
    if (rendered === null || typeof rendered !== "object") return undefined;
    for (const subject of (await registry[kind]?.subjects(rendered, { baseDir: options.baseDir })) ?? []) {
      const denial = judge(becomeSubject(judgedSubject(subject), subject, become), judged);
      if (denial) return denial;
    }
    return undefined;
  };
}
