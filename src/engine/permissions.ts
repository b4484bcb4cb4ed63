import { isAbsolute, normalize, relative, resolve } from "node:path";
import type { ActionKind, LoadedConfig, Permissions } from "../config/index.ts";
import { configError, ExitCode, OpsError } from "../errors.ts";
import { matchGlob, scanCommand, sshExports, sudoIn, type ScannedCommand } from "./command-scan.ts";

export { matchGlob, scanCommand, sudoIn, type ScannedCommand };

/*
 * Run-time permissions: a workflow's `permissions:` (what it may do) and the
 * org policy file (what nobody may do), checked against every action just
 * before it runs, after rendering, so templated values are judged as they
 * will run. Heavy modules (YAML, zod, selectors, secrets) load on first use:
 * engine/index.ts re-exports this file and `opskit probe` must start fast.
 */

/** A policy's denials: the same shape as a workflow's permissions, read as "never". */
export type PolicyRules = Permissions;

/** An org policy file: `deny:` wins over any workflow, `require:` applies to every workflow. */
export interface Policy {
  /** The file as its user named it ("policy.yaml"), for messages. */
  source: string;
  deny: PolicyRules;
  require: { permissions: boolean };
  /** file:line:col of a key in the policy file, for messages about it. */
  where?(path: (string | number)[]): string;
}

/** What a denial is about; the label of opskit_policy_denials_total. */
export type DenialKind = "commands" | "sudo" | "http" | "hosts" | "require";

/** A denial's facts, kept in the step result's data for the journal and metrics. */
export interface Denial {
  workflow: string;
  kind: DenialKind;
  /** Who denied it: the workflow's permissions, or the policy file. */
  by: "workflow" | "policy";
  /** The rule that decided, e.g. "deny.commands 'rm -rf *'" or "permissions.hosts 'role=api'". */
  rule: string;
}

export class PermissionDenied extends OpsError {
  constructor(
    readonly denial: Denial,
    message: string,
    hint: string,
  ) {
    super({ code: "E_POLICY_DENIED", message, hint, exitCode: ExitCode.check });
  }
}

/** The part of a target the hosts rules look at; `local` is a target named local. */
export interface GuardTarget {
  name: string;
  labels: Record<string, string>;
  groups?: readonly string[];
}

/** Checks one rendered action for one target; a denial is returned, never thrown. */
export type Guard = (kind: ActionKind, rendered: unknown, target: GuardTarget) => Promise<PermissionDenied | undefined>;

// ---------------------------------------------------------------------------
// What an action does

interface CommandSubject {
  category: "commands";
  label: string;
  shown: string;
  /** The forms a glob may match: as written, without the ssh env prefix, unquoted. */
  forms: string[];
  sudo: string | undefined;
}
interface UrlSubject {
  category: "http";
  label: string;
  shown: string;
  forms: string[];
}
type Subject = CommandSubject | UrlSubject;

function commandSubject(label: string, command: string): CommandSubject {
  const trimmed = command.trim();
  const bare = trimmed.replace(sshExports, "");
  const forms = new Set([trimmed, bare, scanCommand(trimmed).unquoted.trim(), scanCommand(bare).unquoted.trim()]);
  return { category: "commands", label, shown: trimmed, forms: [...forms], sudo: sudoIn(trimmed) };
}

/** A URL as written and, for http(s), as fetched (host lower-cased, dot segments resolved), so that case cannot slip past a deny. */
function urlForms(url: string): string[] {
  const trimmed = url.trim();
  try {
    const parsed = new URL(trimmed);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return [...new Set([trimmed, parsed.href])];
  } catch {}
  return [trimmed];
}

/** A webhook URL often carries its token: show the origin only. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname === "/" && !parsed.search ? parsed.origin : `${parsed.origin}/…`;
  } catch {
    return "(unparsable URL)";
  }
}

interface SubjectContext {
  baseDir: string;
  quote(text: string): string;
  resolveSecret(reference: string): Promise<string | undefined>;
}

/** The commands and URLs a rendered action will use; copy has neither. */
async function subjectsOf(kind: ActionKind, rendered: unknown, context: SubjectContext, prefix = ""): Promise<Subject[]> {
  // A step whose action was replaced (a shadow fallback) renders nothing to check here.
  if (rendered === null || typeof rendered !== "object") return [];
  const spec = rendered as Record<string, unknown>;
  switch (kind) {
    case "ssh":
    case "exec":
            // `shown` reads with the values in place; `command` only references them.
      return typeof spec.command === "string" ? [commandSubject(`${prefix}${kind} command`, typeof spec.shown === "string" ? spec.shown : spec.command)] : [];
    case "script": {
      const path = String(spec.path);
      const shown = relative(context.baseDir, path);
      const args = Array.isArray(spec.args) ? spec.args.map((a) => context.quote(String(a))) : [];
      const line = [String(spec.interpreter), shown && !shown.startsWith("..") && !isAbsolute(shown) ? shown : path, ...args].join(" ");
      return [commandSubject(`${prefix}script command`, line)];
    }
    case "http":
    case "probe":
      return typeof spec.url === "string" ? [{ category: "http", label: `${prefix}${kind} URL`, shown: spec.url.trim(), forms: urlForms(spec.url) }] : [];
    case "notify": {
      if (typeof spec.url !== "string") return [];
      const reference = /^(env|file):/.test(spec.url);
      const url = reference ? await context.resolveSecret(spec.url) : spec.url;
      // An unset secret fails the notify step on its own, before anything is sent.
      if (url === undefined) return [];
      return [{ category: "http", label: `${prefix}notify URL`, shown: reference ? `${spec.url} (${redactUrl(url)})` : redactUrl(url), forms: urlForms(url) }];
    }
    case "wait": {
      const inner = spec.action as { kind?: ActionKind } | undefined;
      return inner?.kind ? subjectsOf(inner.kind, spec.inner, context, `wait ${prefix}`) : [];
    }
    case "copy":
      return [];
  }
}

// ---------------------------------------------------------------------------
// The guard

const quoteList = (globs: readonly string[]) => (globs.length === 0 ? "none allowed" : `allowed: ${globs.map((g) => `'${g}'`).join(", ")}`);

export interface PermissionOptions {
  /** Directory of the config: script paths are shown relative to it. */
  baseDir: string;
  /** file:line:col of a key under the workflow's permissions, for selector errors. */
  where(key: string): string;
  /** Ad-hoc commands (opskit exec, a rule's escalation) are not workflows: policy denials apply, `require` does not. */
  adHoc?: boolean;
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
  const [{ parseSelector, matches }, { shellQuote }, { resolveSecret }] = await Promise.all([import("../inventory/index.ts"), import("../expr/index.ts"), import("../config/index.ts")]);
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
  const context: SubjectContext = {
    baseDir: options.baseDir,
    quote: shellQuote,
    resolveSecret: (reference) => resolveSecret(reference, "notify.url").catch(() => undefined),
  };
  const at = `workflow ${workflow}`;
  const policyName = policy?.source ?? "";
  const ownerHint = `${policyName} holds the org's denials and no workflow can lift them: change the step, or ask whoever owns ${policyName}`;
  const deny = (kind: DenialKind, by: Denial["by"], rule: string, message: string, hint: string) => new PermissionDenied({ workflow, kind, by, rule }, message, hint);
  const globHint = (list: string) =>
    `${list} of ${at} lists what it may do; if this belongs there, add a glob for it (* any run of characters, ? one character, matched against the whole rendered value)`;

  const requirePermissions = policy?.require.permissions === true && !permissions && !options.adHoc;

  return async (kind, rendered, target) => {
    const where = { name: target.name, labels: target.labels, groups: [...(target.groups ?? [])] };
    if (requirePermissions) {
      return deny("require", "policy", "require.permissions", `${at} declares no permissions, and ${policyName} require.permissions requires every workflow to`, `declare permissions: under workflows.${workflow} (commands, hosts, http, sudo)`);
    }
    if (deniedHosts && matches(where, deniedHosts)) {
      return deny("hosts", "policy", `deny.hosts '${deniedHosts.text}'`, `target ${target.name} denied by ${policyName} deny.hosts '${deniedHosts.text}'`, ownerHint);
    }
    if (permissions && !(allowedHosts && matches(where, allowedHosts))) {
      const declared = allowedHosts ? `'${allowedHosts.text}'` : "none declared";
      return deny("hosts", "workflow", `permissions.hosts ${declared}`, `target ${target.name} is not in permissions.hosts of ${at} (${declared})`, `permissions.hosts of ${at} is a selector its targets must match (name=local for this machine; an empty one allows every target)`);
    }
    for (const subject of await subjectsOf(kind, rendered, context)) {
      const what = `${subject.label} "${subject.shown}"`;
      const denied = subject.category === "commands" ? policy?.deny.commands : policy?.deny.http;
      const hit = denied?.find((glob) => subject.forms.some((form) => matchGlob(glob, form)));
      if (hit !== undefined) return deny(subject.category, "policy", `deny.${subject.category} '${hit}'`, `${what} denied by ${policyName} deny.${subject.category} '${hit}'`, ownerHint);
      if (subject.category === "commands" && subject.sudo) {
        if (policy?.deny.sudo === true) return deny("sudo", "policy", "deny.sudo", `${what} uses ${subject.sudo}, denied by ${policyName} deny.sudo`, ownerHint);
        if (permissions && permissions.sudo !== true) {
          return deny("sudo", "workflow", "permissions.sudo", `${what} uses ${subject.sudo}, and ${at} does not allow it (permissions.sudo is not true)`, `set permissions.sudo: true in ${at} if it must run as root`);
        }
      }
      if (!permissions) continue;
      const allowed = (subject.category === "commands" ? permissions.commands : permissions.http) ?? [];
      if (!allowed.some((glob) => subject.forms.some((form) => matchGlob(glob, form)))) {
        const list = `permissions.${subject.category}`;
        return deny(subject.category, "workflow", list, `${what} is not in ${list} of ${at} (${quoteList(allowed)})`, globHint(list));
      }
    }
    return undefined;
  };
}

// ---------------------------------------------------------------------------
// The policy file

/**
 * Reads a policy file (YAML): `deny: { commands, hosts, http, sudo }` and
 * `require: { permissions: true }`. Errors point at file:line:col.
 */
export async function loadPolicy(path: string, cwd = process.cwd()): Promise<Policy> {
  const [{ z }, { readYamlDocument, validateYaml }, { parseSelector }] = await Promise.all([import("zod"), import("../config/index.ts"), import("../inventory/index.ts")]);
  const source = normalize(path);
  let text: string;
  try {
    text = await Bun.file(resolve(cwd, path)).text();
  } catch (error) {
    throw configError("E_POLICY_READ", `cannot read policy file ${source}: ${(error as Error).message}`, "check --policy, or policy: in the config (relative to the config's directory)");
  }
  const globs = z.array(z.string().min(1));
  const schema = z
    .object({
      deny: z
        .object({
          commands: globs.optional().describe("commands no workflow may run (ssh, exec, script), e.g. ['rm -rf *']"),
          hosts: z.string().optional().describe("selector of targets no workflow may act on, e.g. env=prod"),
          http: globs.optional().describe("URLs no workflow may call (http, probe, wait, notify)"),
          sudo: z.boolean().optional().describe("true: no command may use sudo"),
        })
        .strict()
        .default({}),
      require: z.object({ permissions: z.boolean().default(false).describe("every workflow must declare permissions") }).strict().default({ permissions: false }),
    })
    .strict();
  const doc = readYamlDocument(text, source);
  const parsed = validateYaml(doc.value ?? {}, schema, doc.where);
  if (parsed.deny.hosts !== undefined) {
    try {
      parseSelector(parsed.deny.hosts);
    } catch (error) {
      throw configError("E_POLICY_SELECTOR", `${doc.where(["deny", "hosts"])}: ${(error as Error).message}`, (error as OpsError).hint ?? "write a selector such as env=prod");
    }
  }
  return { source, deny: parsed.deny, require: parsed.require, where: (at) => doc.where(at) };
}

/** The policy a command runs under: `--policy FILE` (relative to the working directory), else the config's `policy:` (relative to the config). */
export async function configuredPolicy(loaded: Pick<LoadedConfig, "config" | "baseDir">, override?: string): Promise<Policy | undefined> {
  if (override) return loadPolicy(override);
  const path = loaded.config.policy;
  if (!path) return undefined;
  const policy = await loadPolicy(resolve(loaded.baseDir, path));
  return { ...policy, source: normalize(path) };
}
