// The execution engine: the bounded pool everything concurrent goes through,
// batch plans and failure budgets, and the workflow executor that emits events.
export { runPool, type PoolOptions, type PoolOutcome } from "./pool.ts";
export { fanOut, type EventSink, type RunCounts, type RunEvent } from "./events.ts";
export { failureBudget, planBatches, resolveCount } from "./plan.ts";
export type { CompiledStep, CompiledWorkflow, CompileOptions, RunOutcome, RunRequest, RunTarget } from "./workflow.ts";
export { journalSink } from "./journal-sink.ts";

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
