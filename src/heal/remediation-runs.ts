// The runs an attempt or an escalation makes (through the run service,
// src/runs/), verification by probe, and how a failure reads on an attempt.
import type { LoadedConfig } from "../config/index.ts";
import type { ApprovalRequest } from "../actions/index.ts";
import type { CompiledWorkflow, EventSink, PriorProgress, StepApprovals } from "../engine/index.ts";
import { isOpsError } from "../errors.ts";
import type { TraceContext } from "../observe/index.ts";
import { localTarget } from "../inventory/index.ts";
import { newRunId, type IncidentRecord, type Journal, type RunParams } from "../journal/index.ts";
import { prepareCompiled, prepareWorkflow, startJournaledRun, type ApplyShadow, type PreparedRun } from "../runs/index.ts";
import { sleep } from "../time/index.ts";
import { alertOfIncident, ruleScope, type CompiledRule, type VerifyPlan } from "./rules.ts";

type RunTrigger = NonNullable<RunParams["trigger"]>;

/** A remediation's or an escalation's run, prepared, with the run id its attempt records before it starts. */
export type WorkflowRun = PreparedRun & { runId: string };

interface RunRequestOptions {
  journal: Journal;
  signal: AbortSignal;
  /** Extra sinks beside the journal (metrics). */
  sinks?: EventSink[];
  /** An interrupted attempt's run this one continues: its finished steps are not run again. */
  progress?: PriorProgress;
  /** The incident's trace, and the span the run goes under (the attempt's, the escalation's). */
  trace?: TraceContext;
  /** Output as step.output events to the sinks while steps run. */
  stream?: boolean;
  /** The grants of steps that asked for approval in the run this one continues (progress), once a person approved. */
  approvals?: StepApprovals;
}

/** A step that would not go on without a person's approval: where, and what it asks. */
export interface HeldStep {
  target: string;
  step: string;
  summary: string;
}

const approvalRequestOf = (data: Record<string, unknown> | undefined): ApprovalRequest | undefined => {
  const request = data?.approvalRequest as Partial<ApprovalRequest> | undefined;
  return request && typeof request.summary === "string" && request.grant !== null && typeof request.grant === "object" ? (request as ApprovalRequest) : undefined;
};

/** A workflow's shadow: declaration applies to remediations as to `opskit run`; shadow/ loads only for a workflow that has one. */
const applyShadow: ApplyShadow = async (compiled, options) => (await import("../shadow/index.ts")).shadowRun(compiled, options);

/** A rule's workflow (compiled at start) on its targets, narrowed by the rule's rendered selector, with the rule's vars. */
export async function planWorkflowRun(loaded: LoadedConfig, rule: CompiledRule, narrowing: string | undefined, vars: Record<string, unknown>, trigger: RunTrigger): Promise<WorkflowRun> {
  const prepared = await prepareWorkflow(loaded, { name: rule.rule.run, compiled: rule.workflow, ...(narrowing ? { limit: narrowing } : {}), targetsWhere: `rule ${rule.name}`, vars, trigger });
  return { ...prepared, runId: newRunId() };
}

/** An escalation runs its steps on this machine with the incident and the reason as vars. */
export function escalationRun(loaded: LoadedConfig, escalation: CompiledWorkflow, incident: IncidentRecord, reason: string, trigger: RunTrigger): WorkflowRun {
  const vars = {
    reason,
    incident: { id: incident.id, title: incident.title, fingerprint: incident.fingerprint, attempts: incident.attempts, milestones: incident.milestones },
    alert: { labels: incident.labels, annotations: incident.annotations },
  };
  return { ...prepareCompiled(loaded, { name: `escalate:${trigger.rule}`, compiled: escalation, targets: [localTarget], vars, trigger }), runId: newRunId() };
}

/** What a remediation would run, for a dry run's record: the workflow, its targets and the rule's rendered vars. */
export function describePlan(loaded: LoadedConfig, incident: IncidentRecord, rule: CompiledRule): string {
  try {
    const scope = ruleScope(alertOfIncident(incident), incident);
    const narrowing = rule.targets?.render(scope, "selector");
    const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
    const workflow = loaded.config.workflows[rule.rule.run]!;
    return `workflow ${rule.rule.run} on ${JSON.stringify(workflow.targets)}${narrowing ? ` narrowed to ${JSON.stringify(narrowing)}` : ""} with vars ${JSON.stringify(vars)}`;
  } catch (error) {
    return `workflow ${rule.rule.run} (its templates fail: ${describeFailure(error)})`;
  }
}

/**
 * Runs a prepared remediation or escalation as one journaled run; resolves
 * with whether it succeeded and, when it failed only because steps asked
 * for approval (their results' data.approvalRequest), those steps.
 */
export async function executeWorkflowRun(plan: WorkflowRun, options: RunRequestOptions): Promise<{ ok: boolean; status: string; detail: string; held?: HeldStep[] }> {
  const notes: string[] = [];
  const held: HeldStep[] = [];
  let otherFailures = 0;
  const watch: EventSink = (event) => {
    if (event.type !== "step.finished" || (event.status !== "failed" && event.status !== "unreachable")) return;
    const request = event.status === "failed" ? approvalRequestOf(event.result.data) : undefined;
    if (request) held.push({ target: event.target, step: event.name, summary: request.summary });
    else otherFailures++;
  };
  const { counts, status } = await startJournaledRun(plan, {
    journal: options.journal,
    runId: plan.runId,
    signal: options.signal,
    sinks: [...(options.sinks ?? []), watch],
    ...(options.progress ? { progress: options.progress } : {}),
    ...(options.approvals ? { approvals: options.approvals } : {}),
    approvable: true,
    ...(options.trace ? { trace: options.trace } : {}),
    ...(options.stream ? { stream: true } : {}),
    shadow: applyShadow,
    onNote: (note) => notes.push(`; shadow: ${note.message}`),
  });
  const detail = `run ${plan.runId} ${status}: ok=${counts.ok} changed=${counts.changed} failed=${counts.failed} unreachable=${counts.unreachable}${notes.join("")}`;
  const waits = status === "failed" && held.length > 0 && otherFailures === 0;
  return { ok: status === "succeeded", status, detail, ...(waits ? { held } : {}) };
}

/**
 * Verifies recovery with a probe (a URL, or a PromQL query rendered for the
 * incident): polls until it has passed without a break for the plan's hold
 * (`for`; without one, the first pass will do) or the timeout runs out. A
 * failed poll starts the hold again. Returns when the hold was complete, or
 * why it never was.
 */
export async function verifyByProbe(plan: Extract<VerifyPlan, { kind: "probe" }>, incident: IncidentRecord, signal: AbortSignal): Promise<{ ok: true; at: number; since: number } | { ok: false; reason: string }> {
  const { parseTarget, runProbe } = await import("../probe/index.ts");
  const target = parseTarget(plan.target(incident), "verify");
  const deadline = Date.now() + plan.timeoutMs;
  let last = "no probe ran";
  /** When the first poll of the current unbroken run of passes started. */
  let since: number | undefined;
  while (!signal.aborted) {
    const startedAt = Date.now();
    const result = await runProbe(
      { target, name: plan.shown, labels: {}, expectations: plan.expectations },
      { timeoutMs: Math.min(plan.intervalMs, 10_000), retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 64 * 1024 },
      signal,
    );
    if (result.verdict === "healthy") {
      since ??= startedAt;
      // Measured from poll start to poll start: the hold counts only time the condition was seen to hold.
      if (startedAt - since >= plan.holdMs) return { ok: true, at: Date.now(), since };
    } else {
      since = undefined;
      last = result.reason ?? result.error?.message ?? result.expectations.find((e) => !e.passed)?.expr ?? result.verdict;
    }
    if (Date.now() + plan.intervalMs > deadline) break;
    if (!(await sleep(plan.intervalMs, signal))) break;
  }
  if (signal.aborted) return { ok: false, reason: "verification cancelled" };
  const after = `after ${Math.round(plan.timeoutMs / 1000)}s`;
  if (since !== undefined) return { ok: false, reason: `verify ${plan.shown} passed for only ${Math.round((Date.now() - since) / 1000)}s of the ${Math.round(plan.holdMs / 1000)}s it must hold, ${after}` };
  return { ok: false, reason: `verify ${plan.shown} still failing ${after}: ${last}` };
}

/** An error as one line for an attempt's detail or a heal.error: the message, and the hint in parentheses. */
export function describeFailure(error: unknown): string {
  if (isOpsError(error)) return error.hint ? `${error.message} (${error.hint})` : error.message;
  return error instanceof Error ? error.message : String(error);
}

