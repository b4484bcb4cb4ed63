import { basename, dirname, resolve } from "node:path";
import { loadConfig } from "../../config/index.ts";
import type { ConfigPath } from "../../schema/index.ts";
import { describeError } from "../../errors.ts";
import { matches, resolveInventory, selectTargets, type Target } from "../../inventory/index.ts";
import { deniedCommand, deniedGlob, deniedKube, deniedUrl, loadAuditPolicy as loadPolicy, type AuditPolicy, type PolicyHit } from "../../policy/index.ts";
import type { AuditContext, Hit, Rule, RuleSet, SourceFile } from "../types.ts";
import { commandOf, isMap, kubeOf, readWorkflowFile, stepsOf, urlsOf, workflowsOf, type WorkflowFile } from "../workflow-file.ts";

/*
 * Workflows checked against the org policy given with --policy: what a step
 * could run or request once its templates render (a `{{ }}` may render to
 * anything), and what its permissions would allow. Denials win at run time
 * whatever the workflow says; the audit reports them before anyone runs it.
 */

export const rules: readonly Rule[] = [
  {
    id: "OPS-POL-001",
    severity: "error",
    title: "command denied by policy",
    why: "The policy's deny.commands forbids this command everywhere; the run would be stopped at this step, after the steps before it changed things.",
    fix: "Remove or change the step (or the permissions entry); if the policy is wrong, change the policy through its owners.",
  },
  {
    id: "OPS-POL-002",
    severity: "error",
    title: "URL denied by policy",
    why: "The policy's deny.http forbids requests to this URL; the run would be stopped at this step.",
    fix: "Call an allowed endpoint (e.g. https instead of http), or narrow the permissions.http glob so it excludes the denied URLs.",
  },
  {
    id: "OPS-POL-003",
    severity: "error",
    title: "sudo denied by policy",
    why: "The policy's deny.sudo forbids sudo in any workflow; the command would be refused at run time.",
    fix: "Run as a user that has the rights it needs (defaults.user or the host's user), and drop permissions.sudo.",
  },
  {
    id: "OPS-POL-004",
    severity: "error",
    title: "targets denied by policy",
    why: "The workflow's targets include hosts that the policy's deny.hosts puts out of reach of every workflow.",
    fix: "Narrow targets (or permissions.hosts) with a requirement that excludes them, e.g. add ,env!=prod.",
  },
  {
    id: "OPS-POL-005",
    severity: "error",
    title: "permissions required by policy",
    why: "The policy requires every workflow to declare permissions (require.permissions: true); this one would be refused.",
    fix: "Add permissions: with the commands, hosts and URLs the workflow needs.",
  },
  {
    id: "OPS-POL-007",
    severity: "error",
    title: "Kubernetes operation denied by policy",
    why: "The policy's deny.kube forbids this operation on this object everywhere; the run would be stopped at this step.",
    fix: "Change the step (or narrow the permissions.kube glob so it excludes what the policy denies); if the policy is wrong, change it through its owners.",
  },
  {
    id: "OPS-POL-006",
    severity: "note",
    title: "policy check incomplete",
    why: "The policy file named by the config's policy: could not be read, or the hosts a workflow targets could not be worked out (the config does not load, an inventory source cannot be read), so part of the policy was not checked.",
    fix: "Make `opskit validate` and `opskit inventory` pass for this config (and its policy: readable), then audit again.",
  },
];

type Report = (rule: string, path: ConfigPath, message: string, at?: "key" | "value") => void;

const cite = (hit: PolicyHit) => `policy ${hit.rule} ("${hit.pattern}", ${hit.at})`;

async function check(source: SourceFile, context: AuditContext): Promise<Hit[]> {
  const parsed = readWorkflowFile(source);
  if (!parsed.ok) return [];
  const { file } = parsed;
  const hits: Hit[] = [];
  const report: Report = (rule, path, message, at = "value") => hits.push({ rule, ...file.position(path, at), message });
  const policy = context.policy ?? (await configPolicy(source, file, context, report));
  if (!policy) return hits;
  for (const { name, workflow, path } of workflowsOf(file)) {
    if (policy.require.permissions && workflow.permissions === undefined) {
      report("OPS-POL-005", path, `workflow ${name} declares no permissions, which policy require.permissions (${policy.where(["require", "permissions"])}) demands`, "key");
    }
    checkSteps(policy, name, workflow, report);
    checkPermissions(policy, name, workflow, report);
  }
  if (policy.hostSelector) await checkHosts(policy, source, file, report);
  return hits;
}

/** Without --policy, a config's own `policy:` (relative to the config) applies, as it does at run time. */
const configPolicies = new WeakMap<AuditContext, Map<string, Promise<AuditPolicy | string>>>();

async function configPolicy(source: SourceFile, file: WorkflowFile, context: AuditContext, report: Report): Promise<AuditPolicy | undefined> {
  const path = file.value.policy;
  if (typeof path !== "string") return undefined;
  const dir = dirname(source.path);
  const absolute = resolve(basename(dir) === "opskit.d" ? dirname(dir) : dir, path);
  let cache = configPolicies.get(context);
  if (!cache) configPolicies.set(context, (cache = new Map()));
  let pending = cache.get(absolute);
  if (!pending) {
    pending = loadPolicy(absolute).catch((error: unknown) => describeError(error).split("\n")[0]!);
    cache.set(absolute, pending);
  }
  const policy = await pending;
  if (typeof policy !== "string") return policy;
  report("OPS-POL-006", ["policy"], `the config's policy could not be read, so workflows were not checked against it: ${policy}`);
  return undefined;
}

function checkSteps(policy: AuditPolicy, name: string, workflow: Record<string, unknown>, report: Report): void {
  for (const { step, path, label } of stepsOf(name, workflow)) {
    const command = commandOf(step, path);
    const denied = command && deniedCommand(policy, command.command);
    if (command && denied) {
      const rule = denied.rule === "deny.sudo" ? "OPS-POL-003" : "OPS-POL-001";
      const matching = command.command.includes("{{") ? "could render to a command" : "is a command";
      const what = denied.rule === "deny.sudo" ? `uses ${denied.pattern}, which policy deny.sudo (${denied.at}) forbids` : `${matching} ${cite(denied)} forbids`;
      report(rule, command.path, `step ${label} runs "${command.command}": it ${what}`);
    }
    for (const { url, path: urlPath } of urlsOf(step, path)) {
      if (/^(env|file):/.test(url)) continue;
      const hit = deniedUrl(policy, url);
      if (hit) report("OPS-POL-002", urlPath, `step ${label} requests ${url}, which ${cite(hit)} forbids`);
    }
    const kube = kubeOf(step, path);
    if (kube) {
      // Without a namespace in the step, it is the context's: any.
      const forms = [`${kube.verb} ${kube.ref}`, `${kube.verb} ${kube.namespace ?? "{{ namespace }}"}/${kube.ref}`];
      const hit = deniedKube(policy, forms);
      if (hit) report("OPS-POL-007", kube.path, `step ${label} does kube ${kube.verb} ${kube.ref}${kube.namespace ? ` in ${kube.namespace}` : ""}, which ${cite(hit)} forbids`);
    }
  }
}

/** Permissions that allow what the policy denies: the denial wins, so the workflow's author should know. */
function checkPermissions(policy: AuditPolicy, name: string, workflow: Record<string, unknown>, report: Report): void {
  const permissions = workflow.permissions;
  if (!isMap(permissions)) return;
  const base: ConfigPath = ["workflows", name, "permissions"];
  for (const [kind, rule] of [["commands", "OPS-POL-001"], ["http", "OPS-POL-002"], ["kube", "OPS-POL-007"]] as const) {
    const allowed = permissions[kind];
    if (!Array.isArray(allowed)) continue;
    allowed.forEach((glob, i) => {
      const hit = typeof glob === "string" ? deniedGlob(policy, kind, glob) : undefined;
      if (hit) report(rule, [...base, kind, i], `permissions.${kind}[${i}] "${glob}" allows what ${cite(hit)} forbids`);
    });
  }
  if (policy.deny.sudo === true && permissions.sudo === true) {
    report("OPS-POL-003", [...base, "sudo"], `permissions.sudo: true allows what policy deny.sudo (${policy.where(["deny", "sudo"])}) forbids`);
  }
}

/** Resolving a config's inventory reads its sources; each config is resolved once per policy. */
const inventories = new WeakMap<AuditPolicy, Map<string, Promise<Target[] | string>>>();

function inventoryOf(policy: AuditPolicy, source: SourceFile): Promise<Target[] | string> {
  let cache = inventories.get(policy);
  if (!cache) inventories.set(policy, (cache = new Map()));
  // A file in opskit.d/ is one part of the config in the directory above.
  const dir = dirname(source.path);
  const path = basename(dir) === "opskit.d" ? dirname(dir) : source.path;
  let pending = cache.get(path);
  if (!pending) {
    pending = loadConfig({ path, cwd: dirname(path) })
      .then((loaded) => resolveInventory(loaded, { cwd: dirname(path) }))
      .catch((error: unknown) => describeError(error).split("\n")[0]!);
    cache.set(path, pending);
  }
  return pending;
}

async function checkHosts(policy: AuditPolicy, source: SourceFile, file: WorkflowFile, report: Report): Promise<void> {
  const fleet = workflowsOf(file).filter(({ workflow }) => typeof workflow.targets === "string" && workflow.targets.trim() !== "local");
  if (fleet.length === 0) return;
  const inventory = await inventoryOf(policy, source);
  for (const { name, workflow, path } of fleet) {
    if (typeof inventory === "string") {
      report("OPS-POL-006", [...path, "targets"], `deny.hosts not checked for workflow ${name}: ${inventory}`);
      continue;
    }
    let selected: Target[];
    try {
      selected = selectTargets(inventory, workflow.targets as string);
      const permissions = workflow.permissions;
      if (isMap(permissions) && typeof permissions.hosts === "string") selected = selectTargets(selected, permissions.hosts);
    } catch (error) {
      report("OPS-POL-006", [...path, "targets"], `deny.hosts not checked for workflow ${name}: ${describeError(error).split("\n")[0]}`);
      continue;
    }
    const denied = selected.filter((target) => matches(target, policy.hostSelector!));
    if (denied.length === 0) continue;
    const names = denied.slice(0, 3).map((t) => t.name).join(", ") + (denied.length > 3 ? ` and ${denied.length - 3} more` : "");
    report("OPS-POL-004", [...path, "targets"], `workflow ${name} targets ${names}, which policy deny.hosts ("${policy.deny.hosts}", ${policy.where(["deny", "hosts"])}) forbids`);
  }
}

export const policyRules: RuleSet = { language: "workflow", rules, check };
