import { actions, resultScope, scopeVariables, type Action, type ActionTarget, type RemoteHost, type Renderer } from "../actions/index.ts";
import type { ActionKind, Step, Workflow } from "../config/index.ts";
import { configError } from "../errors.ts";
import { compileExpression, compileTemplate, type Expression } from "../expr/index.ts";
import type { RunStatus, StepPhase, TargetStatus } from "../journal/index.ts";
import { parseDuration, sleep } from "../time/index.ts";
import type { EventSink, RunCounts } from "./events.ts";
import { newSpanId, newTraceId, type TraceContext } from "../observe/index.ts";
import { compilePermissions, type Guard, type Policy } from "../policy/index.ts";
import { failureBudget, planBatches } from "./plan.ts";
import type { PriorProgress } from "./progress.ts";
import { runPool } from "./pool.ts";
import { celVars } from "./scope.ts";
import type { HostBecome } from "../inventory/index.ts";
import type { BecomeDefaults, StepBecome } from "./become.ts";
import { describeStep } from "./describe.ts";
import { asksApproval, runStep, runStepOnce, type StepRun } from "./step.ts";

/** A target as the engine runs it: what actions see plus how to reach it. */
export interface RunTarget extends ActionTarget {
  user: string;
  groups: string[];
  /** The inventory's becomeUser and becomeMethod for it (host, then groups): what a become step leaves out. */
  become?: HostBecome;
}

export interface CompiledStep {
  phase: StepPhase;
  index: number;
  name: string;
  kind: ActionKind;
  action: Action<unknown, unknown>;
  render: Renderer<unknown>;
  when: Expression | undefined;
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
  register: string;
  continueOnError: boolean;
  changed: boolean | undefined;
  /** The workflow's permissions and the org policy, checked on the rendered action just before it runs. */
  guard: Guard | undefined;
  /** become: true on the step or its workflow, for an action that runs on the host: the user and method they name (the target's settings fill in the rest, stepBecome). */
  become: StepBecome | undefined;
  /** Runs once per run, on the first target that reaches it; every target records its result. */
  runOnce: boolean;
  /** local: runs on this machine instead of over the target's connection. */
  delegate: "local" | undefined;
}

export interface CompiledWorkflow {
  workflow: Workflow;
  steps: CompiledStep[];
  hooks: Record<"pre" | "post" | "on_failure" | "rollback", CompiledStep[]>;
}

export interface CompileOptions {
  name: string;
  baseDir: string;
  defaultTimeoutMs: number;
  /** file:line:col of a path in the config, for error messages. */
  where(path: (string | number)[]): string;
  /** The org policy file's denials and requirements, over the workflow's own permissions. */
  policy?: Policy;
  /** Ad-hoc commands (opskit exec, escalations) are not workflows: the policy denies, `require` does not apply. */
  adHoc?: boolean;
  /** defaults.becomeMethod and defaults.becomeFlags. */
  become?: BecomeDefaults;
}

/** Every CEL name a step's templates and `when` may use. */
export const stepVariables = [...scopeVariables];

/** become from the step, else its workflow; only for an action whose work runs on the host. */
function compileBecome(step: Step, workflow: Workflow, action: Action<unknown, unknown>, spec: unknown, path: (string | number)[], options: CompileOptions): StepBecome | undefined {
  const onHost = typeof action.onHost === "function" ? action.onHost(spec) : action.onHost === true;
  const wanted = step.become ?? workflow.become ?? false;
  if (step.become === true && !onHost) {
    throw configError(
      "E_BECOME_ACTION",
      `${options.where([...path, "become"])}: become applies to steps that run on the host (ssh, script, copy, systemd, a wait polling ssh); ${action.kind} runs nothing there`,
      "drop become from this step; to run a command as another user on this machine, use an ssh step with delegate: local",
    );
  }
  for (const key of ["becomeUser", "becomeMethod"] as const) {
    if (step[key] !== undefined && !wanted) {
      throw configError("E_BECOME_OFF", `${options.where([...path, key])}: ${key} has no effect without become`, "set become: true on the step (or on its workflow), or remove " + key);
    }
  }
  if (!wanted || !onHost) return undefined;
  const user = step.becomeUser ?? workflow.becomeUser;
  const method = step.becomeMethod ?? workflow.becomeMethod;
  return { ...(user !== undefined ? { user } : {}), ...(method !== undefined ? { method } : {}), ...(options.become ? { defaults: options.become } : {}) };
}

async function compileStep(step: Step, phase: StepPhase, index: number, path: (string | number)[], options: CompileOptions, guard: Guard | undefined, workflow: Workflow): Promise<CompiledStep> {
  const kind = (Object.keys(actions) as ActionKind[]).find((k) => (step as Record<string, unknown>)[k] !== undefined)!;
  const where = options.where(path);
  const action = actions[kind];
  if (step.runOnce && (phase === "on_failure" || phase === "rollback")) {
    throw configError("E_RUN_ONCE_HOOK", `${options.where([...path, "runOnce"])}: runOnce applies to steps and pre and post hooks; ${phase} hooks run for each target that needs them`, "remove runOnce, or move the step to steps, pre or post");
  }
  const render = await action.compile((step as Record<string, unknown>)[kind], {
    where,
    baseDir: options.baseDir,
    variables: stepVariables,
    compileTemplate: (text, at, escape) => compileTemplate(text, at, stepVariables, escape),
  });
  return {
    phase,
    index,
    name: step.name ?? `${kind}-${index + 1}`,
    kind,
    action,
    render,
    when: step.when ? await compileExpression(step.when, `${where}.when`, stepVariables) : undefined,
    timeoutMs: step.timeout ? parseDuration(step.timeout, `${where}.timeout`) : options.defaultTimeoutMs,
    attempts: step.retries?.attempts ?? 1,
    backoffMs: step.retries ? parseDuration(step.retries.backoff, `${where}.retries.backoff`) : 0,
    register: step.register ?? step.name ?? `${kind}-${index + 1}`,
    continueOnError: step.continueOnError,
    changed: step.changed,
    guard,
    become: compileBecome(step, workflow, action, (step as Record<string, unknown>)[kind], path, options),
    runOnce: step.runOnce === true,
    delegate: step.delegate,
  };
}


/** Compiles every step and hook up front: a bad template or expression fails before anything runs. */
export async function compileWorkflow(workflow: Workflow, options: CompileOptions): Promise<CompiledWorkflow> {
  const base = ["workflows", options.name];
  const guard = await compilePermissions(options.name, workflow.permissions, options.policy, {
    baseDir: options.baseDir,
    where: (key) => options.where([...base, "permissions", key]),
    ...(options.adHoc ? { adHoc: true } : {}),
  });
  const list = (steps: Step[], phase: StepPhase, path: (string | number)[]) => Promise.all(steps.map((s, i) => compileStep(s, phase, i, [...path, i], options, guard, workflow)));
  return {
    workflow,
    steps: await list(workflow.steps, "main", [...base, "steps"]),
    hooks: {
      pre: await list(workflow.hooks.pre, "pre", [...base, "hooks", "pre"]),
      post: await list(workflow.hooks.post, "post", [...base, "hooks", "post"]),
      on_failure: await list(workflow.hooks.on_failure, "on_failure", [...base, "hooks", "on_failure"]),
      rollback: await list(workflow.hooks.rollback, "rollback", [...base, "hooks", "rollback"]),
    },
  };
}

export interface RunRequest {
  runId: string;
  kind: "workflow" | "exec";
  name: string;
  compiled: CompiledWorkflow;
  targets: RunTarget[];
  vars: Record<string, unknown>;
  /** Opens (or reuses) the pooled connection to a target. */
  connect(target: RunTarget, signal: AbortSignal): Promise<RemoteHost>;
  /**
   * Nothing more of the run needs the target's connection: its steps and
   * hooks are over and no rollback can come to it. A fleet run then holds
   * about as many connections as targets in flight, not one per host.
   */
  release?(target: RunTarget): void;
  baseDir: string;
  maxOutputBytes: number;
  /** Stream remote output as step.output events. */
  stream: boolean;
  /** Aborted on the first Ctrl-C: nothing new starts, in-flight steps are cancelled. */
  signal: AbortSignal;
  /** Aborted on the second Ctrl-C: rollback stops too. */
  hardSignal: AbortSignal;
  emit: EventSink;
  /** Targets owing a rollback from an earlier, interrupted run (resume). */
  owedRollback?: RunTarget[];
  /** The trace the run's spans belong to (and the span it runs under); a new trace when absent. */
  trace?: TraceContext;
  /**
   * What an earlier run of this workflow finished (a retry after it was cut
   * off, or a resume): on each target, steps and post hooks up to the first
   * one not finished there are not run again; their recorded results stand
   * (and are registered for later steps). From that step on, everything runs.
   */
  progress?: PriorProgress;
  /**
   * Steps that asked a person's approval in the run this one continues
   * (a result's data.approvalRequest) and got it: the grant each step runs
   * with (ActionContext.approved), by target, phase, index and name.
   */
  approvals?: StepApprovals;
  /**
   * A person can approve what a step asks (a remediation under opskit
   * serve): a step that fails asking for approval (its result's
   * data.approvalRequest) holds its target instead of failing it: not
   * retried, no on_failure hooks, not counted against the failure budget.
   * The run still ends failed, for its caller to hold.
   */
  approvable?: boolean;
}

export type StepApprovals = (target: string, phase: StepPhase, index: number, name: string) => Readonly<Record<string, unknown>> | undefined;

export interface RunOutcome {
  status: RunStatus;
  counts: RunCounts;
  targets: Map<string, { status: TargetStatus; changed: boolean }>;
}

function targetScope(target: RunTarget) {
  return { name: target.name, address: target.address, port: BigInt(target.port), user: target.user, labels: target.labels, vars: target.vars, groups: target.groups, ...(target.kube ? { kube: target.kube } : {}) };
}


/**
 * Runs a compiled workflow over its targets: batches in order, one bounded
 * pool per batch, one failure budget for the whole run; when the budget is
 * spent or the run is interrupted no new target starts and rollback hooks
 * run on the targets that changed.
 */
export async function executeRun(given: RunRequest): Promise<RunOutcome> {
  const trace = { traceId: given.trace?.traceId ?? newTraceId(), ...(given.trace?.parentSpanId ? { parentSpanId: given.trace.parentSpanId } : {}) };
  const request: StepRun = { ...given, trace, once: new Map() };
  const { compiled, emit, runId } = request;
  const startedAt = performance.now();
  const workflow = compiled.workflow;
  const batches = planBatches(request.targets, workflow.strategy);
  const budget = failureBudget(workflow.strategy, workflow, request.targets.length);
  const concurrencyCap = "parallel" in workflow.strategy ? workflow.strategy.parallel.concurrency : Number.POSITIVE_INFINITY;
  const counts: RunCounts = { targets: request.targets.length, ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0, notStarted: 0, rolledBack: 0 };
  const outcome = new Map<string, { status: TargetStatus; changed: boolean }>();
  const changedTargets: RunTarget[] = [];
  // Targets stopped at a step waiting for approval: failed for the run, not for its failure budget.
  let heldTargets = 0;
  let stopReason: "budget" | "interrupted" | undefined;
  // Rollback hooks run at the end on targets that changed (when the run stops) and on those an earlier run owes.
  const owedNames = new Set((request.owedRollback ?? []).map((t) => t.name));
  const mayRollBack = (target: RunTarget, changed: boolean) => compiled.hooks.rollback.length > 0 && (changed || owedNames.has(target.name));

  emit({
    type: "run.started",
    runId,
    kind: request.kind,
    name: request.name,
    targets: request.targets.map((t) => t.name),
    batches: batches.map((b) => b.map((t) => t.name)),
    vars: request.vars,
    dryRun: false,
    traceId: trace.traceId,
    spanId: newSpanId(),
    ...(trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {}),
  });

  const stop = (reason: "budget" | "interrupted", detail: string) => {
    if (stopReason) return;
    stopReason = reason;
    emit({ type: "run.stopping", runId, reason, detail });
  };
  const onInterrupt = () => {
    // Run by whoever aborts (a signal handler, a timer, the job queue): a sink that fails (a journal gone
    // with its database) must not throw into them and take the process down; stopReason is set before the
    // emit, and the run's own next emit meets the same failure and ends the run with it.
    try {
      stop("interrupted", "interrupted: no new targets start; in-flight steps are cancelled");
    } catch {}
  };
  request.signal.addEventListener("abort", onInterrupt, { once: true });

  for (const [b, batch] of batches.entries()) {
    if (stopReason) {
      for (const target of batch) outcome.set(target.name, { status: "pending", changed: false });
      counts.notStarted += batch.length;
      continue;
    }
    emit({ type: "batch.started", runId, batch: b + 1, of: batches.length, targets: batch.map((t) => t.name), spanId: newSpanId() });
    const pool = runPool(
      batch,
      async (target) => {
        // Once the budget is spent, targets not yet started are left alone.
        if (stopReason) return { target, status: "pending" as TargetStatus, changed: false, held: false };
        const finished = await runTarget(request, target, b + 1);
        if (!mayRollBack(target, finished.changed)) request.release?.(target);
        return { target, ...finished };
      },
      { concurrency: Math.min(concurrencyCap, batch.length) },
    );
    for await (const done of pool) {
      if ("error" in done) throw done.error;
      const { target, status, changed, held } = done.value;
      if (held) heldTargets++;
      outcome.set(target.name, { status, changed });
      if (status === "pending") counts.notStarted++;
      else if (status === "ok" || status === "changed") counts[status]++;
      else if (status === "failed") counts.failed++;
      else if (status === "unreachable") counts.unreachable++;
      else if (status === "skipped") counts.skipped++;
      if (changed) changedTargets.push(target);
      if (counts.failed - heldTargets > budget.failures) stop("budget", `${counts.failed} failed, more than maxFailures ${budget.failures}`);
      else if (counts.unreachable > budget.unreachable) stop("budget", `${counts.unreachable} unreachable, more than maxUnreachable ${budget.unreachable}`);
    }
    const pauseText = "rolling" in workflow.strategy ? workflow.strategy.rolling.pause : undefined;
    if (pauseText && !stopReason && b < batches.length - 1) await sleep(parseDuration(pauseText), request.signal);
  }

  const owed = stopReason ? changedTargets : [];
  const rollbackTargets = [...owed, ...(request.owedRollback ?? [])];
  if (rollbackTargets.length > 0 && compiled.hooks.rollback.length > 0) {
    emit({ type: "rollback.started", runId, targets: rollbackTargets.map((t) => t.name) });
    const pool = runPool(
      rollbackTargets,
      async (target) => {
        const rolledBack = await runPhase(request, target, compiled.hooks.rollback, {}, request.hardSignal, 0);
        request.release?.(target);
        return rolledBack;
      },
      { concurrency: Math.min(concurrencyCap, rollbackTargets.length) },
    );
    for await (const done of pool) {
      if ("error" in done) throw done.error;
      if (done.value.status !== "failed" && done.value.status !== "unreachable") {
        counts.rolledBack++;
        const previous = outcome.get(done.item.name);
        outcome.set(done.item.name, { status: "rolled_back", changed: previous?.changed ?? true });
        emit({ type: "target.finished", runId, target: done.item.name, batch: 0, status: "rolled_back", changed: true, durationMs: done.value.durationMs, startedAt: done.value.startedAt });
      }
    }
  }
  request.signal.removeEventListener("abort", onInterrupt);

  const status: RunStatus = request.signal.aborted ? "interrupted" : counts.failed + counts.unreachable > 0 || stopReason ? "failed" : "succeeded";
  emit({ type: "run.finished", runId, status, counts, durationMs: performance.now() - startedAt });
  return { status, counts, targets: outcome };
}

interface PhaseOutcome {
  status: TargetStatus;
  changed: boolean;
  /** Stopped at a step waiting for a person's approval (RunRequest.approvable). */
  held?: boolean;
  durationMs: number;
  startedAt: string;
  error?: string;
}

async function runTarget(request: StepRun, target: RunTarget, batch: number): Promise<{ status: TargetStatus; changed: boolean; held?: boolean }> {
  const { compiled, emit, runId } = request;
  const startedAt = new Date().toISOString();
  const started = performance.now();
  emit({ type: "target.started", runId, target: target.name, batch, spanId: newSpanId(), host: target.address, labels: target.labels });
  const registered: Record<string, unknown> = {};
  let result = await runPhase(request, target, [...compiled.hooks.pre, ...compiled.steps], registered, request.signal, batch, true);
  if (result.status === "ok" || result.status === "changed") {
    const post = await runPhase(request, target, compiled.hooks.post, registered, request.signal, batch, true);
    result = { ...post, changed: result.changed || post.changed, status: post.status === "ok" && result.changed ? "changed" : post.status };
  } else if (result.status === "failed" && !result.held && compiled.hooks.on_failure.length > 0) {
    await runPhase(request, target, compiled.hooks.on_failure, registered, request.hardSignal, batch);
  }
  const durationMs = performance.now() - started;
  emit({ type: "target.finished", runId, target: target.name, batch, status: result.status, changed: result.changed, durationMs, startedAt, ...(result.error ? { error: result.error } : {}) });
  return { status: result.status, changed: result.changed, ...(result.held ? { held: true } : {}) };
}

/** Runs steps in order on one target; stops at the first failure unless the step continues on error. */
async function runPhase(
  request: StepRun,
  target: RunTarget,
  steps: CompiledStep[],
  registered: Record<string, unknown>,
  signal: AbortSignal,
  batch: number,
  /** Continue after what request.progress finished (steps and post hooks; never on_failure or rollback). */
  resume = false,
): Promise<PhaseOutcome> {
  const { emit, runId } = request;
  const startedAt = new Date().toISOString();
  const started = performance.now();
  let changed = false;
  let ran = 0;
  let skipped = 0;
  const vars = celVars(request.vars);
  const scope = () => ({ vars, target: targetScope(target), env: process.env, steps: registered });
  let resuming = resume ? request.progress : undefined;
  for (const step of steps) {
    if (signal.aborted) return { status: "failed", changed, durationMs: performance.now() - started, startedAt, error: "interrupted" };
    const prior = resuming?.finished(target.name, step.phase, step.index, step.name);
    if (resuming && prior) {
      if (prior.status === "skipped") skipped++;
      else ran++;
      registered[step.register] = resultScope(prior.result);
      changed ||= prior.result.changed;
      const description = `finished in run ${resuming.runId}`;
      emit({ type: "step.finished", runId, target: target.name, phase: step.phase, index: step.index, name: step.name, action: step.kind, description, status: prior.status, attempts: 0, result: prior.result, startedAt: prior.startedAt, resumedFrom: resuming.runId });
      continue;
    }
    resuming = undefined;
    const describe = (rendered: unknown) => describeStep(step, rendered, target);
    const { status, result, ran: acted } = step.runOnce ? await runStepOnce(request, target, step, scope, signal, describe) : await runStep(request, target, step, scope(), signal, describe);
    registered[step.register] = resultScope(result);
    if (status === "skipped") {
      skipped++;
      continue;
    }
    // A step refused before it ran (a template, permissions) changes nothing and does not count as run.
    if (acted) {
      ran++;
      changed ||= result.changed;
    }
    if (status === "unreachable") return { status: "unreachable", changed, durationMs: performance.now() - started, startedAt, error: result.error?.message };
    if (status === "failed" && !step.continueOnError) {
      const held = asksApproval(request, result) ? { held: true } : {};
      return { status: "failed", changed, durationMs: performance.now() - started, startedAt, error: acted ? `${step.name}: ${result.error?.message ?? "failed"}` : (result.error?.message ?? "failed"), ...held };
    }
  }
  const status: TargetStatus = ran === 0 && skipped > 0 ? "skipped" : changed ? "changed" : "ok";
  void batch;
  return { status, changed, durationMs: performance.now() - started, startedAt };
}
