// The execution engine: the bounded pool everything concurrent goes through,
// batch plans and failure budgets, and the workflow executor that emits events.
export { runPool, type PoolOptions, type PoolOutcome } from "./pool.ts";
export { Slots } from "./slots.ts";
export type { EventSink, RunCounts, RunEvent } from "./events.ts";
export { failureBudget, planBatches, resolveCount } from "./plan.ts";
export type { CompiledStep, CompiledWorkflow, CompileOptions, RunOutcome, RunRequest, RunTarget, StepApprovals } from "./workflow.ts";
export { journalSink, type JournalSink } from "./journal-sink.ts";
export { runTraceSink } from "./trace-sink.ts";
export { toRunTarget } from "./targets.ts";
export { approvedSteps, priorProgress, type PriorProgress } from "./progress.ts";
export { celVars } from "./scope.ts";
export type { KnownVars, Problem } from "./preflight.ts";
export type { Remotes } from "./remotes.ts";

// The workflow engine pulls in every action; it is loaded on first use so
// that `opskit probe`, which needs only the pool, starts fast.
import type { CompiledWorkflow, CompileOptions, RunOutcome, RunRequest } from "./workflow.ts";
import type { Workflow } from "../config/index.ts";

export async function compileWorkflow(workflow: Workflow, options: CompileOptions): Promise<CompiledWorkflow> {
  return (await import("./workflow.ts")).compileWorkflow(workflow, options);
}

export async function executeRun(request: RunRequest): Promise<RunOutcome> {
  return (await import("./workflow.ts")).executeRun(request);
}

/** Pooled SSH connections (or this machine) for a run's targets; loads SSH on first use. */
export async function openRemotes(...args: Parameters<typeof import("./remotes.ts").openRemotes>): Promise<import("./remotes.ts").Remotes> {
  return (await import("./remotes.ts")).openRemotes(...args);
}

/** What a step would change on a target, for --dry-run (a copy's diff); loads on first use. */
export async function previewStep(...args: Parameters<typeof import("./step.ts").previewStep>): ReturnType<typeof import("./step.ts").previewStep> {
  return (await import("./step.ts")).previewStep(...args);
}

/** The line a step is shown with: its action's description, and who runs it where (become, delegate). */
export { describeStep, stepBecome } from "./describe.ts";

/** The checks before a run (vars, environment and secrets, permissions against the targets); loads on first use. */
export async function loadPreflight(): Promise<typeof import("./preflight.ts")> {
  return import("./preflight.ts");
}
