import { actions } from "../actions/index.ts";
import type { Step, Workflow } from "../config/index.ts";
import { formatPath, isSecretReference, resolveSecret, type ConfigPath } from "../schema/index.ts";
import { ExitCode, OpsError, isOpsError } from "../errors.ts";
import { referencedFields, splitTemplate } from "../expr/index.ts";
import type { Guard, GuardTarget, Policy } from "../policy/index.ts";

/*
 * Checks a workflow for what would fail, or go wrong quietly, only once it
 * runs: a var that nothing gives (a template would fail, a `when` would be
 * false and skip its step), an environment variable or secret reference
 * that is not set, permissions that deny every target. `opskit validate`
 * and `opskit run --dry-run` report these before anything is touched.
 */

/** One thing to fix, where it is, and how. */
export interface Problem {
  code: string;
  /** file:line:col */
  where: string;
  message: string;
  hint: string;
}

/** Several problems at once: validate and --dry-run report every one, not the first. */
export class PreflightFailed extends OpsError {
  constructor(readonly problems: Problem[], subject: string, hint = "nothing was run; each problem says how to fix it") {
    super({
      code: "E_PREFLIGHT",
      message: `${problems.length} problem${problems.length === 1 ? "" : "s"} in ${subject}:\n${problems.map((p) => `  ${p.where}: ${p.message}\n    fix: ${p.hint}`).join("\n")}`,
      hint,
      exitCode: ExitCode.config,
    });
  }

  override toJSON() {
    return { ...super.toJSON(), problems: this.problems };
  }
}

/** What a run knows of its vars. */
export interface KnownVars {
  /** Names a run will have a value for. */
  defined: ReadonlySet<string>;
  /** Names declared with no value (`version: ~`): parameters each run must be given. */
  required: ReadonlySet<string>;
  /** How to give a var that has no value. */
  hint(name: string): string;
}

export interface StepCheck {
  steps: { step: Step; path: ConfigPath }[];
  where(path: ConfigPath): string;
  /** Omitted where vars are fixed by opskit (a rule's escalation). */
  vars?: KnownVars;
  env: Record<string, string | undefined>;
}

/** Every step of a workflow, hooks included, with its path in the config. */
export function stepsOf(path: ConfigPath, workflow: Workflow): { step: Step; path: ConfigPath }[] {
  const lists: [ConfigPath, Step[]][] = [
    [[...path, "steps"], workflow.steps],
    ...(Object.entries(workflow.hooks) as [string, Step[]][]).map(([hook, steps]): [ConfigPath, Step[]] => [[...path, "hooks", hook], steps]),
  ];
  return lists.flatMap(([at, steps]) => steps.map((step, i) => ({ step, path: [...at, i] })));
}

/** A CEL expression or a {{ }} template in a step, with where it sits. */
interface Source {
  path: ConfigPath;
  code: string;
  /** Column of the {{ }} in a template. */
  column?: number;
}

/** The expressions of a step that read vars and env: `when`, a wait's `until`, and every template. */
function sourcesOf(step: Step, path: ConfigPath): { expressions: Source[]; secrets: { path: ConfigPath; reference: string }[] } {
  const expressions: Source[] = [];
  const secrets: { path: ConfigPath; reference: string }[] = [];
  if (step.when) expressions.push({ path: [...path, "when"], code: step.when });
  const visit = (value: unknown, at: ConfigPath, key: string | number | undefined, parent: string | number | undefined): void => {
    if (typeof value === "string") {
      // `expect` reads the result only; `until` is CEL over the result and the run's names.
      if (key === "until") return void expressions.push({ path: at, code: value });
      // The fields that take a secret reference: a notify URL, env values, a query's credentials (promql: bearer, basic.password).
      if ((key === "url" && parent === "notify") || (parent === "env" && typeof key === "string") || key === "bearer" || (key === "password" && parent === "basic")) {
        if (isSecretReference(value)) return void secrets.push({ path: at, reference: value });
      }
      let parts: ReturnType<typeof splitTemplate>;
      try {
        parts = splitTemplate(value, "");
      } catch {
        return; // a malformed template is reported by compiling it
      }
      for (const part of parts) if ("code" in part) expressions.push({ path: at, code: part.code, column: part.column });
      return;
    }
    if (Array.isArray(value)) return value.forEach((item, i) => visit(item, [...at, i], i, key));
    if (value !== null && typeof value === "object") {
      for (const [k, inner] of Object.entries(value)) if (k !== "expect") visit(inner, [...at, k], k, key);
    }
  };
  // Every kind the registry knows: a new action is checked without a second list here.
  for (const kind of Object.keys(actions)) {
    const spec = (step as Record<string, unknown>)[kind];
    if (spec !== undefined) visit(spec, [...path, kind], kind, undefined);
  }
  return { expressions, secrets };
}

/** Vars nothing gives, environment variables not set and secret references that do not resolve. */
export async function checkSteps(check: StepCheck): Promise<Problem[]> {
  const problems: Problem[] = [];
  // One problem per missing name, at its first use: a var read by ten steps is one thing to fix.
  const missing = new Map<string, { source: Source; uses: number; root: string; field: string; required: boolean }>();
  for (const { step, path } of check.steps) {
    const { expressions, secrets } = sourcesOf(step, path);
    for (const source of expressions) {
      let references: Awaited<ReturnType<typeof referencedFields>>;
      try {
        references = await referencedFields(source.code, check.vars ? ["vars", "env"] : ["env"]);
      } catch {
        continue; // a syntax error is reported by compiling it
      }
      for (const { root, field, guarded } of references) {
        if (guarded) continue;
        const absent = root === "env" ? check.env[field] === undefined : !check.vars!.defined.has(field);
        if (!absent) continue;
        const key = `${root}.${field}`;
        const seen = missing.get(key);
        if (seen) seen.uses++;
        else missing.set(key, { source, uses: 1, root, field, required: root === "vars" && check.vars!.required.has(field) });
      }
    }
    for (const secret of secrets) {
      try {
        await resolveSecret(secret.reference, formatPath(secret.path));
      } catch (error) {
        if (!isOpsError(error)) throw error;
        problems.push({ code: error.code, where: check.where(secret.path), message: error.message, hint: error.hint ?? "set it before running opskit" });
      }
    }
  }
  for (const { source, uses, root, field, required } of missing.values()) {
    const what = source.column === undefined ? `${formatPath(source.path)}: ${source.code}` : `${formatPath(source.path)}: {{ ${source.code} }} at column ${source.column}`;
    const more = uses > 1 ? ` (and ${uses - 1} more place${uses === 2 ? "" : "s"})` : "";
    const name = `${root}.${field}`;
    if (root === "env") {
      problems.push({
        code: "E_ENV_UNSET",
        where: check.where(source.path),
        message: `${what} reads ${name}, and environment variable ${field} is not set${more}`,
        hint: `export ${field}=... before running opskit, or test for it: has(env.${field})`,
      });
    } else {
      problems.push({
        code: required ? "E_VAR_REQUIRED" : "E_VAR_UNDEFINED",
        where: check.where(source.path),
        message: required ? `${what} reads ${name}, a parameter declared with no value, and none was given${more}` : `${what} reads ${name}, which no vars: declares and no --var gives${more}`,
        hint: check.vars!.hint(field),
      });
    }
  }
  return problems.sort(byPosition);
}

/** In file order: "a.yaml:3:5" before "a.yaml:12:1". */
function byPosition(a: Problem, b: Problem): number {
  const at = (p: Problem) => /^(.*):(\d+):(\d+)$/.exec(p.where);
  const [x, y] = [at(a), at(b)];
  if (!x || !y) return 0;
  return x[1]! < y[1]! ? -1 : x[1]! > y[1]! ? 1 : Number(x[2]) - Number(y[2]) || Number(x[3]) - Number(y[3]);
}

/**
 * Permissions (the workflow's hosts, the policy's deny.hosts or
 * require.permissions) that deny every one of the targets: such a run
 * could only fail. Judged by the run's own guard, on the target alone.
 */
export async function checkTargetsAllowed(options: {
  name: string;
  workflow: Workflow;
  path: ConfigPath;
  where(path: ConfigPath): string;
  guard: Guard | undefined;
  policy: Policy | undefined;
  targets: readonly GuardTarget[];
}): Promise<Problem[]> {
  const { guard, targets, workflow } = options;
  if (!guard || targets.length === 0) return [];
  let first: Awaited<ReturnType<Guard>>;
  for (const target of targets) {
    const denial = await guard("exec", null, target);
    if (!denial) return [];
    first ??= denial;
  }
  const { by, kind } = first!.denial;
  const count = targets.length === 1 ? `its target ${targets[0]!.name}` : `all ${targets.length} of its targets`;
  const message = `workflow ${options.name} may not act on ${count}: ${first!.message}`;
  if (by === "workflow") {
    const hosts = workflow.permissions?.hosts;
    return [
      {
        code: "E_PERMISSIONS_NO_TARGET",
        where: options.where([...options.path, "permissions", ...(hosts === undefined ? [] : ["hosts"])]),
        message,
        hint:
          hosts === undefined
            ? `permissions without hosts allow no target: add hosts: to permissions, e.g. hosts: ${JSON.stringify(workflow.targets === "local" ? "name=local" : workflow.targets)}`
            : `permissions.hosts must match the targets (${JSON.stringify(workflow.targets)}): widen it (name=local is this machine), or change targets`,
      },
    ];
  }
  const policy = options.policy;
  const key = kind === "require" ? ["require", "permissions"] : ["deny", "hosts"];
  return [
    {
      code: "E_POLICY_NO_TARGET",
      where: policy?.where ? relativeToCwd(policy.where(key)) : (policy?.source ?? "policy"),
      message,
      hint: kind === "require" ? `declare permissions: under workflows.${options.name}` : `the policy's deny.${key[1]} wins over any workflow: change the workflow's targets, or ask whoever owns ${policy?.source ?? "the policy"}`,
    },
  ];
}

/** The config's policy file is read by its absolute path; under the working directory, show it relative, as config files are. */
function relativeToCwd(where: string): string {
  const cwd = `${process.cwd()}/`;
  return where.startsWith(cwd) ? where.slice(cwd.length) : where;
}
