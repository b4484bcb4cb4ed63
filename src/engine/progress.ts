import type { ActionResult, ApprovalRequest } from "../actions/index.ts";
import type { RunStore, StepPhase, StepStatus } from "../journal/index.ts";
import type { StepApprovals } from "./workflow.ts";

/**
 * What an earlier run of the same workflow got done, per target and step, as
 * the journal recorded it: a retry (onInterrupted: retry) or `opskit runs
 * resume` continues from each target's first unfinished step instead of
 * running finished ones again.
 */
export interface PriorProgress {
  runId: string;
  /** The step's result if it finished there (ok, changed or skipped) under the same name. */
  finished(target: string, phase: StepPhase, index: number, name: string): { status: StepStatus; result: ActionResult; startedAt: string } | undefined;
  /** A runOnce step's result if it finished there on any target (and which): it does not run again for the others. */
  finishedOnce?(phase: StepPhase, index: number, name: string): { target: string; status: StepStatus; result: ActionResult; startedAt: string } | undefined;
  /** Steps that started there and never finished (the process died under them): they run again. */
  unfinished: { target: string; phase: StepPhase; index: number; name: string }[];
  /** Whether any step started there at all. */
  started: boolean;
}

const done: ReadonlySet<StepStatus> = new Set(["ok", "changed", "skipped"]);
const key = (target: string, phase: StepPhase, index: number) => `${target}\u0000${phase}\u0000${index}`;

export async function priorProgress(journal: Pick<RunStore, "stepProgress">, runId: string): Promise<PriorProgress> {
  const finished = new Map<string, { name: string; status: StepStatus; result: ActionResult; startedAt: string }>();
  const once = new Map<string, { target: string; name: string; status: StepStatus; result: ActionResult; startedAt: string }>();
  const unfinished: PriorProgress["unfinished"] = [];
  const steps = await journal.stepProgress(runId);
  for (const step of steps) {
    const record = step.result;
    if (!record) {
      unfinished.push({ target: step.target, phase: step.phase, index: step.index, name: step.name });
      continue;
    }
    if (!done.has(record.status)) continue;
    const result: ActionResult = {
      ok: true,
      changed: record.status === "changed",
      exitCode: record.exitCode,
      stdout: record.stdout,
      stderr: record.stderr,
      durationMs: record.durationMs,
      ...(record.data ? { data: record.data } : {}),
    };
    finished.set(key(step.target, step.phase, step.index), { name: step.name, status: record.status, result, startedAt: record.startedAt });
    const onceKey = key("", step.phase, step.index);
    if (!once.has(onceKey)) once.set(onceKey, { target: step.target, name: step.name, status: record.status, result, startedAt: record.startedAt });
  }
  return {
    runId,
    finished(target, phase, index, name) {
      const found = finished.get(key(target, phase, index));
      // A step renamed or moved since is not the same step: from there on, everything runs.
      return found && found.name === name ? found : undefined;
    },
    finishedOnce(phase, index, name) {
      const found = once.get(key("", phase, index));
      return found && found.name === name ? found : undefined;
    },
    unfinished,
    started: steps.length > 0,
  };
}

/**
 * Every approval the steps of an earlier run asked for (a failed result's
 * data.approvalRequest), granted: a person approved that run's held
 * remediation, and the run that continues it hands each step its grant.
 */
export async function approvedSteps(journal: Pick<RunStore, "stepProgress">, runId: string): Promise<StepApprovals> {
  const grants = new Map<string, { name: string; grant: Readonly<Record<string, unknown>> }>();
  for (const step of await journal.stepProgress(runId)) {
    const request = step.result?.status === "failed" ? step.result.data?.approvalRequest : undefined;
    const grant = request !== null && typeof request === "object" ? (request as Partial<ApprovalRequest>).grant : undefined;
    if (grant !== null && typeof grant === "object") grants.set(key(step.target, step.phase, step.index), { name: step.name, grant });
  }
  return (target, phase, index, name) => {
    const found = grants.get(key(target, phase, index));
    return found && found.name === name ? found.grant : undefined;
  };
}
