import { formatPath, type ConfigPath } from "../../schema/index.ts";
import { unsafeShellPlaces } from "../../expr/index.ts";
import type { AuditContext, Hit, Rule, RuleSet, SourceFile } from "../types.ts";
import { commandOf, isMap, kubeOf, readWorkflowFile, stepsOf, urlsOf, workflowsOf, type WorkflowFile } from "../workflow-file.ts";
import { isPasswordName, isSecretName, scanSecretPatterns, secretRules } from "./secrets.ts";

/*
 * Risky patterns in opskit workflows, read from the YAML with the positions
 * of its keys. The config need not be valid: `opskit validate` reports
 * schema errors, the audit reports risks in whatever it can read.
 */

export const rules: readonly Rule[] = [
  {
    id: "OPS-WF-001",
    severity: "note",
    title: "step without a timeout",
    why: "A step that hangs (a stuck ssh, a service that never comes back) holds its batch for the 5m default before the run can fail or roll back.",
    fix: "Give the step a timeout sized to it (timeout: 30s), or set defaults.stepTimeout for the whole config.",
  },
  {
    id: "OPS-WF-002",
    severity: "error",
    title: "destructive command fleet-wide without a failure budget",
    why: "A restart, kill, reboot or delete run on every target at once (or in batches with no maxFailures) can take the whole fleet down before anyone sees the first failure.",
    fix: "Use strategy: { rolling: { batch: [1, \"25%\"], maxFailures: 0 } } so a canary goes first and the run stops at the first failure.",
  },
  {
    id: "OPS-WF-003",
    severity: "error",
    title: "inline secret in a workflow",
    why: "A password, token or key written into opskit.yaml is readable by everyone with the repository and ends up in diffs and backups.",
    fix: "Reference it: env:NAME or file:/path (e.g. token: env:DEPLOY_TOKEN), or template it from a var that is itself a reference.",
  },
  {
    id: "OPS-WF-004",
    severity: "error",
    title: "host key checking off",
    why: "hostKeyChecking: off accepts any SSH host key, so a man in the middle receives the commands and the credentials of every run.",
    fix: "Use hostKeyChecking: strict with a reviewed known_hosts file, or accept-new to record keys on first contact.",
  },
  {
    id: "OPS-WF-005",
    severity: "warning",
    title: "workflow without permissions",
    why: "Without permissions a workflow may run any command on any host and call any URL; a template that renders something unexpected is not stopped.",
    fix: "Declare what it may do: permissions: { commands: [\"systemctl restart api\"], hosts: \"role=api\", http: [\"https://api.internal/*\"] }.",
  },
  {
    id: "OPS-WF-006",
    severity: "error",
    title: "opskit config that does not parse",
    why: "A config the YAML parser rejects cannot be audited, and opskit will refuse to run it.",
    fix: "Fix the YAML syntax at the position given; `opskit validate` explains schema errors.",
  },
  {
    id: "OPS-WF-007",
    severity: "error",
    title: "template value where the shell would parse it again",
    why: "opskit hands each {{ }} value to the command as a shell variable, which no quoting turns into code; but arithmetic, a quoted here-document, eval, an `sh -c` script or a remote ssh command parse that variable's text again, so an alert label or a --var would run. opskit refuses such a workflow at load.",
    fix: "Pass the value where it stays data: as a positional parameter (sh -c 'echo \"$1\"' sh {{ vars.x }}), on stdin, or computed in the template ({{ int(vars.n) + 1 }}).",
  },
  {
    id: "OPS-WF-008",
    severity: "warning",
    title: "Kubernetes delete without permissions.kube",
    why: "A kube delete whose object is templated or whose workflow lists no kube permissions can remove any object the context's user may delete, in every cluster the workflow targets.",
    fix: "Declare what the workflow may delete: permissions: { kube: [\"delete job/cleanup-*\"] } (globs over VERB KIND/NAME and VERB NAMESPACE/KIND/NAME).",
  },
  ...secretRules.filter((r) => r.id === "OPS-SEC-001" || r.id === "OPS-SEC-002"),
];

type Report = (rule: string, path: ConfigPath, message: string, at?: "key" | "value") => void;

/** The extent of the scalar that starts at a column: a quoted string through its closing quote, a plain one to the end of the line or a comment. */
export function scalarLength(line: string, column: number): number {
  const rest = line.slice(column - 1);
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const close = rest.indexOf(quote, 1);
    return close < 0 ? rest.length : close + 1;
  }
  const comment = rest.search(/\s#/);
  return (comment < 0 ? rest : rest.slice(0, comment)).trimEnd().length;
}

function check(source: SourceFile, context: AuditContext): Hit[] {
  const lines = source.text.split("\n");
  const hits = scanSecretPatterns(lines);
  const parsed = readWorkflowFile(source);
  if (!parsed.ok) return [...hits, { rule: "OPS-WF-006", line: parsed.line, column: parsed.column, message: parsed.message }];
  const { file } = parsed;
  const report: Report = (rule, path, message, at = "value") => {
    const position = file.position(path, at);
    const found: Hit = { rule, ...position, message };
    // An inline secret's value is masked wherever the line is shown.
    if (rule === "OPS-WF-003") found.redact = { column: position.column, length: scalarLength(lines[position.line - 1] ?? "", position.column) };
    hits.push(found);
  };
  checkHostKeys(file, report);
  checkInlineSecrets(file, report);
  const defaults = file.value.defaults;
  const stepTimeout = (isMap(defaults) && typeof defaults.stepTimeout === "string" ? defaults.stepTimeout : undefined) ?? context.stepTimeoutOf(source);
  for (const { name, workflow, path } of workflowsOf(file)) {
    if (workflow.permissions === undefined) report("OPS-WF-005", path, `workflow ${name} declares no permissions`, "key");
    checkDestructive(name, workflow, report);
    checkKubeDelete(name, workflow, report);
    checkTemplatePlaces(name, workflow, report);
    if (stepTimeout === undefined) {
      for (const { step, path: stepPath, label } of stepsOf(name, workflow)) {
        // A wait is bounded by its own timeout (60s by default).
        if (step.timeout === undefined && step.wait === undefined) report("OPS-WF-001", stepPath, `step ${label} has no timeout and no defaults.stepTimeout is set`);
      }
    }
  }
  return hits;
}

function checkHostKeys(file: WorkflowFile, report: Report): void {
  const check = (defaults: unknown, path: ConfigPath) => {
    if (isMap(defaults) && defaults.hostKeyChecking === "off") report("OPS-WF-004", [...path, "hostKeyChecking"], `${formatPath(path)}.hostKeyChecking: off accepts any host key`);
  };
  check(file.value.defaults, ["defaults"]);
  const environments = file.value.environments;
  if (isMap(environments)) for (const [name, env] of Object.entries(environments)) if (isMap(env)) check(env.defaults, ["environments", name, "defaults"]);
}

const destructive: [RegExp, (match: RegExpExecArray) => string][] = [
  [/(?<![\w/.-])rm\s+(?:-\w*\s+)*-\w*[rR]/, () => "rm -r"],
  [/\bsystemctl\s+(?:-\S+\s+)*(stop|restart|kill|poweroff|reboot|halt|isolate)\b/, (m) => `systemctl ${m[1]}`],
  [/\bservice\s+\S+\s+(stop|restart)\b/, (m) => `service ${m[1]}`],
  [/(?<![\w/.-])(reboot|shutdown|poweroff|halt)(?![\w/.-])/, (m) => m[1]!],
  [/(?<![\w/.-])(pkill|killall|kill)(?![\w/.-])(?!\s+-0\b)/, (m) => m[1]!],
  [/\bDROP\s+(TABLE|DATABASE|SCHEMA)\b/i, (m) => `DROP ${m[1]!.toUpperCase()}`],
];

/** What a command destroys, if anything: "systemctl restart", "rm -r", "DROP TABLE"... */
export function destructiveVerb(command: string): string | undefined {
  for (const [pattern, label] of destructive) {
    const match = pattern.exec(command);
    if (match) return label(match);
  }
  return undefined;
}

function checkDestructive(name: string, workflow: Record<string, unknown>, report: Report): void {
  const targets = typeof workflow.targets === "string" ? workflow.targets.trim() : "local";
  if (targets === "local") return;
  const strategy = workflow.strategy;
  const rolling = isMap(strategy) && isMap(strategy.rolling) ? strategy.rolling : undefined;
  if (rolling && rolling.maxFailures !== undefined) return;
  const how = rolling ? "in rolling batches without maxFailures" : "on every target at once";
  for (const { step, path, label } of stepsOf(name, workflow)) {
    const command = commandOf(step, path);
    const verb = command && destructiveVerb(command.command);
    if (command && verb) report("OPS-WF-002", command.path, `step ${label} runs ${verb} ${how} (targets: ${targets})`);
    // Restarting or deleting in every cluster at once is the fleet-wide restart of the Kubernetes API.
    const kube = kubeOf(step, path);
    if (kube && (kube.verb === "delete" || kube.verb === "restart")) report("OPS-WF-002", kube.path, `step ${label} does kube ${kube.verb} ${kube.ref} ${how} (targets: ${targets})`);
  }
}

/** A kube delete in a workflow that does not list the Kubernetes operations it may do. */
function checkKubeDelete(name: string, workflow: Record<string, unknown>, report: Report): void {
  const permissions = workflow.permissions;
  if (isMap(permissions) && Array.isArray(permissions.kube)) return;
  for (const { step, path, label } of stepsOf(name, workflow)) {
    const kube = kubeOf(step, path);
    if (kube?.verb === "delete") report("OPS-WF-008", kube.path, `step ${label} deletes ${kube.ref}, and workflow ${name} declares no permissions.kube`);
  }
}

/** Each {{ }} of a command in a place that no quoting makes safe: what `opskit validate` refuses. */
function checkTemplatePlaces(name: string, workflow: Record<string, unknown>, report: Report): void {
  for (const { step, path, label } of stepsOf(name, workflow)) {
    const command = commandOf(step, path);
    if (!command || step.script !== undefined || !command.command.includes("{{")) continue;
    let unsafe;
    try {
      unsafe = unsafeShellPlaces(command.command);
    } catch {
      continue; // an unclosed {{ is opskit validate's to report
    }
    for (const place of unsafe) {
      report("OPS-WF-007", command.path, `step ${label}: {{ ${place.code} }} at line ${place.line}, column ${place.column} of the command: ${place.reason}`);
    }
  }
}

const secretHeaders = /^(authorization|proxy-authorization|cookie|x-api-key|api-key|apikey|x-auth-token|private-token|x-[\w-]*-(token|key|secret))$/i;

/** Literal values for secret-looking keys in vars, env and headers. */
function checkInlineSecrets(file: WorkflowFile, report: Report): void {
  const visit = (value: unknown, path: ConfigPath, headers: boolean) => {
    if (!isMap(value)) return;
    for (const [key, entry] of Object.entries(value)) {
      if (isMap(entry)) {
        visit(entry, [...path, key], headers);
        continue;
      }
      if (typeof entry !== "string" || !isInlineSecret(key, entry, headers)) continue;
      report("OPS-WF-003", [...path, key], `${formatPath([...path, key])} holds a literal ${headers ? "credential" : "secret"} (${entry.length} characters)`);
    }
  };
  const { value } = file;
  visit(value.vars, ["vars"], false);
  for (const [section, key] of [["environments", "vars"], ["inventory", "hosts"], ["inventory", "groups"]] as const) {
    const entries = section === "inventory" ? (isMap(value.inventory) ? value.inventory[key] : undefined) : value[section];
    if (!isMap(entries)) continue;
    for (const [name, entry] of Object.entries(entries)) if (isMap(entry)) visit(entry.vars, section === "inventory" ? ["inventory", key, name, "vars"] : [section, name, "vars"], false);
  }
  for (const { name, workflow } of workflowsOf(file)) {
    visit(workflow.vars, ["workflows", name, "vars"], false);
    for (const { step, path } of stepsOf(name, workflow)) {
      for (const kind of ["ssh", "exec", "script", "terraform"]) {
        const action = step[kind];
        if (isMap(action)) visit(action.env, [...path, kind, "env"], false);
      }
      for (const kind of ["http", "notify"]) {
        const action = step[kind];
        if (isMap(action)) visit(action.headers, [...path, kind, "headers"], true);
      }
      for (const { url, path: urlPath } of urlsOf(step, path)) {
        if (/^[a-z]+:\/\/[^/@\s:]+:[^/@\s{]+@/i.test(url) || /[?&](token|key|api_key|apikey|secret|password|sig)=(?!\{\{)[^&\s]{8,}/i.test(url)) report("OPS-WF-003", urlPath, `${formatPath(urlPath)} embeds a credential`);
      }
    }
  }
}

function isInlineSecret(key: string, value: string, header: boolean): boolean {
  const text = value.trim();
  if (text.length < 4 || /^(env|file):/.test(text) || text.includes("{{")) return false;
  if (/^(x+|\*+|changeme|redacted|none|null|<[^>]*>)$/i.test(text)) return false;
  if (header) return secretHeaders.test(key) || isSecretName(key.replace(/-/g, "_"));
  if (/public|_file$|_path$|_id$|_name$|_url$/i.test(key)) return false;
  if (isPasswordName(key)) return true;
  return isSecretName(key) && !/^[/~.]/.test(text) && !/\s/.test(text);
}

export const workflowRules: RuleSet = { language: "workflow", rules, check };
