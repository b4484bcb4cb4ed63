import type { LoadedConfig } from "../config/index.ts";
import { executeRun, fanOut, journalSink, openRemotes, toRunTarget, type CompiledWorkflow, type EventSink, type PriorProgress } from "../engine/index.ts";
import { ExitCode, OpsError, isOpsError } from "../errors.ts";
import { resolveTargets, localTarget, type Target } from "../inventory/index.ts";
import { newRunId, type IncidentRecord, type Journal } from "../journal/index.ts";
import { sleep } from "../ui/index.ts";
import type { VerifyPlan } from "./rules.ts";

const MAX_OUTPUT_BYTES = 64 * 1024;

export interface WorkflowRun {
  runId: string;
  workflow: string;
  targets: Target[];
  vars: Record<string, unknown>;
}

export interface RunRequestOptions {
  loaded: LoadedConfig;
  journal: Journal;
  defaultTimeoutMs: number;
  trigger: { incident: number; attempt: number; rule: string };
  signal: AbortSignal;
  /** Extra sinks beside the journal (metrics). */
  sinks?: EventSink[];
  /** An interrupted attempt's run this one continues: its finished steps are not run again. */
  progress?: PriorProgress;
}

/** Resolves a rule's targets: the workflow's selector, narrowed by the rule's rendered one. */
export async function planWorkflowRun(loaded: LoadedConfig, workflowName: string, narrowing: string | undefined, vars: Record<string, unknown>, where: string): Promise<WorkflowRun> {
  const workflow = loaded.config.workflows[workflowName]!;
  const targets = await resolveTargets(loaded, workflow.targets, narrowing || undefined, where);
  return { runId: newRunId(), workflow: workflowName, targets, vars: { ...loaded.config.vars, ...workflow.vars, ...vars } };
}

/** Runs a compiled workflow as one journaled run; resolves with whether it succeeded. */
export async function executeWorkflowRun(
  plan: WorkflowRun,
  compiled: CompiledWorkflow,
  options: RunRequestOptions,
  kind: "remediation" | "escalation",
): Promise<{ ok: boolean; status: string; detail: string }> {
  const { journal, loaded } = options;
  journal.startRun({
    id: plan.runId,
    kind: "workflow",
    name: kind === "escalation" ? `escalate:${options.trigger.rule}` : plan.workflow,
    params: { configFiles: loaded.files, cwd: process.cwd(), workflow: plan.workflow, vars: plan.vars, dryRun: false, trigger: options.trigger },
    ...(options.progress ? { resumedFrom: options.progress.runId } : {}),
  });
  // A remediation workflow that shadows a legacy script does so here too: the
  // comparison (or, after a fallback, the legacy script itself) as in `opskit run`.
  const shadow =
    kind === "remediation" && compiled.workflow.shadow
      ? (await import("../shadow/index.ts")).shadowRun(compiled, { name: plan.workflow, runId: plan.runId, journal, loaded, maxOutputBytes: MAX_OUTPUT_BYTES })
      : undefined;
  const remotes = await openRemotes(loaded, plan.targets);
  const hard = new AbortController();
  try {
    const outcome = await executeRun({
      runId: plan.runId,
      kind: "workflow",
      name: plan.workflow,
      compiled: shadow?.compiled ?? compiled,
      targets: plan.targets.map(toRunTarget),
      vars: plan.vars,
      connect: (target, signal) => remotes.connect(target.name, signal),
      baseDir: loaded.baseDir,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      stream: false,
      signal: options.signal,
      hardSignal: hard.signal,
      emit: fanOut([journalSink(journal), ...(options.sinks ?? [])]),
      ...(options.progress ? { progress: options.progress } : {}),
    });
    const { counts } = outcome;
    const notes = [...(shadow?.notes ?? []), ...(shadow?.finish() ?? [])].map((note) => `; shadow: ${note.message}`).join("");
    const detail = `run ${plan.runId} ${outcome.status}: ok=${counts.ok} changed=${counts.changed} failed=${counts.failed} unreachable=${counts.unreachable}${notes}`;
    return { ok: outcome.status === "succeeded", status: outcome.status, detail };
  } finally {
    await remotes.close();
  }
}

/** An escalation runs its steps on this machine with the incident and the reason as vars. */
export function escalationRun(incident: IncidentRecord, reason: string): WorkflowRun {
  return {
    runId: newRunId(),
    workflow: `escalate:${incident.rule ?? "none"}`,
    targets: [localTarget],
    vars: {
      reason,
      incident: { id: incident.id, title: incident.title, fingerprint: incident.fingerprint, attempts: incident.attempts, milestones: incident.milestones },
      alert: { labels: incident.labels, annotations: incident.annotations },
    },
  };
}

/**
 * Verifies recovery with a probe: polls until it passes or the timeout runs
 * out. Returns the time it first passed, or why it never did.
 */
export async function verifyByProbe(plan: Extract<VerifyPlan, { kind: "probe" }>, signal: AbortSignal): Promise<{ ok: true; at: number } | { ok: false; reason: string }> {
  const { parseTarget, runProbe } = await import("../probe/index.ts");
  const target = parseTarget(plan.url, "verify.probe");
  const deadline = Date.now() + plan.timeoutMs;
  let last = "no probe ran";
  while (!signal.aborted) {
    const result = await runProbe(
      { target, name: plan.url, labels: {}, expectations: plan.expectations },
      { timeoutMs: Math.min(plan.intervalMs, 10_000), retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 64 * 1024 },
      signal,
    );
    if (result.verdict === "healthy") return { ok: true, at: Date.now() };
    last = result.reason ?? result.error?.message ?? result.expectations.find((e) => !e.passed)?.expr ?? result.verdict;
    if (Date.now() + plan.intervalMs > deadline) break;
    if (!(await sleep(plan.intervalMs, signal))) break;
  }
  return { ok: false, reason: signal.aborted ? "verification cancelled" : `verify probe ${plan.url} still failing after ${Math.round(plan.timeoutMs / 1000)}s: ${last}` };
}

export function describeFailure(error: unknown): string {
  if (isOpsError(error)) return error.hint ? `${error.message} (${error.hint})` : error.message;
  return error instanceof Error ? error.message : String(error);
}

export const interrupted = () => new OpsError({ code: "E_INTERRUPTED", message: "the server is stopping", exitCode: ExitCode.interrupted });
