import { resolve } from "node:path";
import type { EnvironmentBase } from "../actions/index.ts";
import type { LoadedConfig, Step, Workflow } from "../config/index.ts";
import { compileWorkflow, type CompiledWorkflow } from "../engine/index.ts";
import { configuredPolicy, type Policy } from "../policy/index.ts";
import { usageError } from "../errors.ts";
import { adHocTargets, localTarget, resolveTargets, type Target } from "../inventory/index.ts";
import type { RunParams } from "../journal/index.ts";
import { BECOME_USER, type BecomeMethod } from "../schema/index.ts";
import { parseDuration } from "../time/index.ts";
import type { PreparedRun, RunOrigin } from "./types.ts";

/** `opskit exec --timeout` unless given. */
const DEFAULT_EXEC_TIMEOUT = "5m";

/** What the journal records of a run: where it came from, and what it runs (`what`, in the record's order). */
function recordedParams(loaded: LoadedConfig, origin: RunOrigin, what: Omit<RunParams, "configFiles" | "cwd" | "dryRun">): RunParams {
  const cwd = process.cwd();
  const { vars, ...rest } = what;
  return {
    configFiles: loaded.files,
    ...(origin.configPath ? { configPath: origin.configPath } : {}),
    cwd,
    ...rest,
    ...(origin.env ? { env: origin.env } : {}),
    vars,
    dryRun: origin.dryRun === true,
    // Absolute, so that a resume from another directory applies the same file.
    ...(origin.policyPath ? { policy: resolve(cwd, origin.policyPath) } : {}),
    ...(origin.trigger ? { trigger: origin.trigger } : {}),
  };
}

/**
 * The one-step (or few-step) workflow an ad-hoc command is: `opskit exec`,
 * `opskit wrap`, a rule's escalation. Same engine, same output, same journal.
 */
export function adHocWorkflow(steps: Step[], on: { targets: string; concurrency: number }): Workflow {
  return {
    targets: on.targets,
    vars: {},
    strategy: { parallel: { concurrency: on.concurrency } },
    hooks: { pre: [], post: [], on_failure: [], rollback: [] },
    steps,
  };
}

export interface WorkflowRequest extends RunOrigin {
  /** The workflow's name under workflows: in the config. */
  name: string;
  /** Narrows the workflow's targets (--limit, a rule's rendered targets:). */
  limit?: string;
  /** What a selector error points at (default: the workflow's targets: in the config). */
  targetsWhere?: string;
  /** Targets the caller chose (a resume's): the selector is not resolved again. */
  targets?: Target[];
  /** Given vars (--var, a rule's vars), over the workflow's and the config's. */
  vars?: Record<string, unknown>;
  /** Compiled ahead (opskit serve compiles its rules at start, so a bad one fails before it serves). */
  compiled?: CompiledWorkflow;
}

/**
 * A workflow of the config compiled as every run of it is (opskit run, a
 * rule's remediation, opskit validate): the org policy over its permissions,
 * defaults.stepTimeout for steps that name none, errors at file:line:col.
 */
export async function compileConfigWorkflow(loaded: LoadedConfig, name: string, policy: Policy | undefined): Promise<CompiledWorkflow> {
  const workflow = loaded.config.workflows[name]!;
  return compileWorkflow(workflow, { name, baseDir: loaded.baseDir, defaultTimeoutMs: loaded.defaults.stepTimeoutMs, where: (path) => loaded.where(path), ...(loaded.defaults.become ? { become: loaded.defaults.become } : {}), ...(policy ? { policy } : {}) });
}

/** A workflow from the config: its targets, its vars, the org policy and the compiled steps. */
export async function prepareWorkflow(loaded: LoadedConfig, request: WorkflowRequest): Promise<PreparedRun> {
  const { name } = request;
  const workflow = loaded.config.workflows[name];
  if (!workflow) {
    const names = Object.keys(loaded.config.workflows);
    throw usageError("E_NO_WORKFLOW", `no workflow "${name}" in ${loaded.files.join(", ")}`, names.length > 0 ? `defined workflows: ${names.join(", ")}` : "define one under workflows: in opskit.yaml");
  }
  const limit = request.limit || undefined;
  const targets = request.targets ?? (await resolveTargets(loaded, workflow.targets, limit, request.targetsWhere ?? loaded.where(["workflows", name, "targets"])));
  const vars = { ...loaded.config.vars, ...workflow.vars, ...request.vars };
  const policy = request.compiled ? undefined : await configuredPolicy(loaded, request.policyPath);
  const compiled = request.compiled ?? (await compileConfigWorkflow(loaded, name, policy));
  return {
    kind: "workflow",
    name,
    loaded,
    compiled,
    targets,
    vars,
    ...(policy ? { policy } : {}),
    params: recordedParams(loaded, request, { workflow: name, ...(limit ? { limit } : {}), vars }),
  };
}

export interface AdHocRequest extends RunOrigin {
  /** The run's name in the journal: the command (exec), `wrap:NAME`. */
  name: string;
  /** The command line as given, recorded for `opskit runs`. */
  command: string;
  steps: Step[];
  /** A selector and what its errors point at; without one, this machine. */
  on?: { selector: string; where: string };
  /** Targets chosen by the caller (`opskit exec -H`): `on` then only names them. */
  targets?: Target[];
  /** Record the selector, so that `opskit runs resume` can run the command again there (a wrapped script is not replayed). */
  replayable: boolean;
  /** Targets in flight at once (default: defaults.concurrency, else 32). */
  concurrency?: number;
  /** The steps' timeout unless they name one. */
  timeoutMs: number;
  /** Compiled under this name, its config errors pointing at `where`: exec and "command", wrap and "opskit wrap". */
  compiledAs: { name: string; where: string };
  /** Where relative paths start from (default: the config's directory; wrap: the caller's). */
  baseDir?: string;
  /** Vars over the config's. */
  vars?: Record<string, unknown>;
  localEnvironment?: EnvironmentBase;
}

/**
 * An ad-hoc command as a run. It is not a workflow of the config: the org
 * policy's denials apply, its `require` does not.
 */
export async function prepareAdHoc(loaded: LoadedConfig, request: AdHocRequest): Promise<PreparedRun> {
  const { on } = request;
  const targets = request.targets ?? (on ? await resolveTargets(loaded, on.selector, undefined, on.where) : [localTarget]);
  const concurrency = request.concurrency ?? loaded.defaults.concurrency;
  const workflow = adHocWorkflow(request.steps, { targets: on?.selector ?? "local", concurrency });
  const policy = await configuredPolicy(loaded, request.policyPath);
  const { name, where } = request.compiledAs;
  const compiled = await compileWorkflow(workflow, {
    name,
    baseDir: request.baseDir ?? loaded.baseDir,
    defaultTimeoutMs: request.timeoutMs,
    where: () => where,
    adHoc: true,
    ...(loaded.defaults.become ? { become: loaded.defaults.become } : {}),
    ...(policy ? { policy } : {}),
  });
  const vars = { ...loaded.config.vars, ...request.vars };
  const selector = request.replayable && on ? { selector: on.selector } : {};
  return {
    kind: "exec",
    name: request.name,
    loaded,
    compiled,
    targets,
    vars,
    ...(policy ? { policy } : {}),
    ...(request.localEnvironment ? { localEnvironment: request.localEnvironment } : {}),
    params: recordedParams(loaded, request, { command: request.command, ...selector, vars, concurrency }),
  };
}

export interface ExecRequest extends RunOrigin {
  selector: string;
  /** `-H`: hosts named by a pattern (or `@file`) instead of the selector, recorded so that a resume names them again. */
  hosts?: string;
  command: string;
  /** --concurrency (default: defaults.concurrency, else 32). */
  concurrency?: number;
  /** --timeout (default 5m). */
  timeout?: string;
  /** -b: the command runs as `user` (default root) through `method` (default: defaults.becomeMethod, else sudo). */
  become?: ExecBecome;
}

/** What `opskit exec -b` was given: --become-user and --become-method, each unless left to its default. */
export interface ExecBecome {
  user?: string;
  method?: BecomeMethod;
}

/** -b as the command's step: become, its user and its method, checked as the config checks a step's. */
function execBecomeStep(become: ExecBecome | undefined): Pick<Step, "become" | "becomeUser" | "becomeMethod"> {
  if (!become) return {};
  const { user, method } = become;
  if (user !== undefined && !BECOME_USER.test(user)) {
    throw usageError("E_USAGE_BECOME_USER", `--become-user ${JSON.stringify(user)} is not a user name`, "a user name such as root, postgres or www-data");
  }
  return { become: true, ...(user !== undefined ? { becomeUser: user } : {}), ...(method !== undefined ? { becomeMethod: method } : {}) };
}

/** `opskit exec SELECTOR -- COMMAND`: the command as one ssh step on every target the selector matches. */
export async function prepareExec(loaded: LoadedConfig, request: ExecRequest): Promise<PreparedRun> {
  const { selector, command, hosts } = request;
  if ((!selector && hosts === undefined) || !command) throw usageError("E_USAGE_EXEC", "exec needs a selector and a command", "e.g. opskit exec 'role=web' -- systemctl is-active nginx");
  const timeout = request.timeout ?? DEFAULT_EXEC_TIMEOUT;
  const prepared = await prepareAdHoc(loaded, {
    ...request,
    name: command,
    steps: [{ name: "command", ssh: command, timeout, continueOnError: false, ...execBecomeStep(request.become) }],
    on: hosts === undefined ? { selector, where: "opskit exec" } : { selector: `-H ${hosts}`, where: "opskit exec -H" },
    ...(hosts !== undefined ? { targets: await adHocTargets(loaded, hosts) } : {}),
    replayable: true,
    timeoutMs: parseDuration(timeout, "--timeout"),
    compiledAs: { name: "exec", where: "command" },
  });
  // Recorded as given, so that a resume runs the command as the same user, its defaults read from the config again.
  const become = request.become ? { become: { ...request.become } } : {};
  if (hosts === undefined) return { ...prepared, params: { ...prepared.params, ...become } };
  const { selector: _named, ...params } = prepared.params;
  return { ...prepared, params: { ...params, hosts, ...become } };
}

export interface CompiledRequest extends RunOrigin {
  name: string;
  compiled: CompiledWorkflow;
  targets: Target[];
  vars: Record<string, unknown>;
}

/** A workflow compiled ahead on targets already chosen: a rule's escalation, on this machine. */
export function prepareCompiled(loaded: LoadedConfig, request: CompiledRequest): PreparedRun {
  const { name, compiled, targets, vars } = request;
  return { kind: "workflow", name, loaded, compiled, targets, vars, params: recordedParams(loaded, request, { workflow: name, vars }) };
}
