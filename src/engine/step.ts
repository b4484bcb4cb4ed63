import type { ActionPreview, ActionResult, RemoteHost } from "../actions/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import type { StepStatus } from "../journal/index.ts";
import { formatTraceparent, newSpanId, tracePropagation } from "../observe/index.ts";
import { PermissionDenied } from "../policy/index.ts";
import { sleep } from "../time/index.ts";
import { becomeHost, becomePrefix } from "./become.ts";
import { stepBecome } from "./describe.ts";
import { maskedOutput } from "./events.ts";
import { localHost } from "./remotes.ts";
import type { CompiledStep, RunRequest, RunTarget } from "./workflow.ts";

/*
 * One step on one target: `when`, rendering, the permission check, the
 * action with its retries, and the events that say so. A runOnce step runs
 * here for the first target that reaches it; the others take its outcome.
 */

/** What a step came to on a target. `ran`: its action ran (or was refused), as opposed to skipped by `when`. */
export interface StepOutcome {
  status: StepStatus;
  result: ActionResult;
  attempts: number;
  description: string;
  startedAt: string;
  ran: boolean;
}

/** A runOnce step's outcome, shared by every target of the run: the target it ran on, or the earlier run it finished in. */
export interface SharedOutcome extends StepOutcome {
  ranOn: string;
  resumedFrom?: string;
}

/** The run as its steps see it: the request, and the runOnce steps' outcomes by phase and index. */
export type StepRun = RunRequest & { once: Map<string, Promise<SharedOutcome>> };

export const stepStatus = (result: ActionResult): StepStatus => (result.unreachable ? "unreachable" : !result.ok ? "failed" : result.changed ? "changed" : "ok");

/** A failed result that asks a person's approval, in a run where a person can give it. */
export const asksApproval = (request: RunRequest, result: ActionResult) => request.approvable === true && !result.ok && result.data?.approvalRequest !== undefined;

/** The connection a step's action works over: the target's, or this machine's (delegate: local); as the become user when the step says so. */
async function stepHost(connect: RunRequest["connect"], step: CompiledStep, target: RunTarget, signal: AbortSignal): Promise<RemoteHost> {
  const host = step.delegate === "local" ? localHost("minimal") : await connect(target, signal);
  const become = stepBecome(step, target);
  return become ? becomeHost(host, become, step.delegate === "local" ? "this machine" : target.name) : host;
}

const refusedResult = (refusal: OpsError): ActionResult => ({
  ok: false,
  changed: false,
  exitCode: null,
  stdout: "",
  stderr: "",
  durationMs: 0,
  error: refusal.toJSON(),
  ...(refusal instanceof PermissionDenied ? { data: { denial: refusal.denial } } : {}),
});

/** Runs one step on one target and emits its events; the caller registers the result and decides what follows. */
export async function runStep(request: RunRequest, target: RunTarget, step: CompiledStep, scope: Record<string, unknown>, signal: AbortSignal, describe: (rendered: unknown) => string): Promise<StepOutcome> {
  const { emit, runId } = request;
  const startedAt = new Date().toISOString();
  const finish = (outcome: StepOutcome): StepOutcome => {
    const { status, result, attempts, description } = outcome;
    emit({ type: "step.finished", runId, target: target.name, phase: step.phase, index: step.index, name: step.name, action: step.kind, description, status, attempts, result, startedAt });
    return outcome;
  };
  if (step.when) {
    const verdict = step.when.evaluate(scope);
    if (!verdict.ok || verdict.value !== true) {
      const result: ActionResult = { ok: true, changed: false, exitCode: null, stdout: "", stderr: "", durationMs: 0, data: { skipped: true, reason: verdict.ok ? "when was false" : verdict.error } };
      return finish({ status: "skipped", result, attempts: 0, description: `when: ${step.when.source}`, startedAt, ran: false });
    }
  }
  let rendered: unknown;
  let description = step.kind as string;
  // A template that fails to render, or an action the permissions deny, fails the step before it starts.
  let refusal: OpsError | undefined;
  try {
    rendered = step.render(scope);
    description = describe(rendered);
    const become = stepBecome(step, target);
    refusal = await step.guard?.(step.kind, rendered, target, become ? { become: becomePrefix(become), method: become.method } : undefined);
  } catch (error) {
    refusal = error instanceof OpsError ? error : new OpsError({ code: "E_TEMPLATE_EVAL", message: String(error), exitCode: ExitCode.check });
  }
  if (refusal) return finish({ status: "failed", result: refusedResult(refusal), attempts: 0, description, startedAt, ran: false });
  const spanId = newSpanId();
  // The step's span, for the commands and services it calls to join (only while traces are exported).
  const traceparent = request.trace?.traceId && tracePropagation() ? formatTraceparent(request.trace.traceId, spanId) : undefined;
  emit({ type: "step.started", runId, target: target.name, phase: step.phase, index: step.index, name: step.name, action: step.kind, description, spanId });
  let result: ActionResult;
  let attempt = 0;
  const approved = request.approvals?.(target.name, step.phase, step.index, step.name);
  while (true) {
    attempt++;
    const output = request.stream ? maskedOutput((stream, text) => emit({ type: "step.output", runId, target: target.name, step: step.name, stream, text })) : undefined;
    result = await step.action.run(rendered, {
      target,
      host: () => stepHost(request.connect, step, target, signal),
      signal,
      timeoutMs: step.timeoutMs,
      baseDir: request.baseDir,
      maxOutputBytes: request.maxOutputBytes,
      ...(output ? { onOutput: output.onOutput } : {}),
      ...(traceparent ? { traceparent } : {}),
      ...(approved ? { approved } : {}),
    });
    output?.flush();
    if (result.ok || result.unreachable || attempt >= step.attempts || signal.aborted || asksApproval(request, result)) break;
    await sleep(step.backoffMs * 2 ** (attempt - 1), signal);
  }
  if (step.changed !== undefined && result.ok) result = { ...result, changed: step.changed };
  return finish({ status: stepStatus(result), result, attempts: attempt, description, startedAt, ran: true });
}

/**
 * A runOnce step on a target: the first target of the run that reaches it
 * runs it (unless an earlier run this one continues finished it on some
 * target); every other target waits for that outcome and records it as its
 * own, the description saying where it ran. Its failure is every target's
 * failure. A target whose host could not be reached did not run it: the
 * next target that waits runs it instead.
 */
export async function runStepOnce(request: StepRun, target: RunTarget, step: CompiledStep, scope: () => Record<string, unknown>, signal: AbortSignal, describe: (rendered: unknown) => string): Promise<StepOutcome> {
  const key = `${step.phase}\u0000${step.index}`;
  // Bounded: each turn round, another target ran the step and could not reach its host.
  while (true) {
    let shared = request.once.get(key);
    if (!shared) {
      const prior = request.progress?.finishedOnce?.(step.phase, step.index, step.name);
      if (!prior) {
        const own = runStep(request, target, step, scope(), signal, describe).then((outcome) => {
          if (outcome.status === "unreachable" && request.once.get(key) === own) request.once.delete(key);
          return { ...outcome, ranOn: target.name };
        });
        request.once.set(key, own);
        return own;
      }
      const description = `finished once on ${prior.target} in run ${request.progress!.runId}`;
      shared = Promise.resolve({ status: prior.status, result: prior.result, attempts: 0, description, startedAt: prior.startedAt, ran: prior.status !== "skipped", ranOn: prior.target, resumedFrom: request.progress!.runId });
      request.once.set(key, shared);
    }
    const outcome = await shared;
    if (outcome.status === "unreachable" && !signal.aborted) continue;
    const description = outcome.resumedFrom ? outcome.description : `${outcome.description} (ran once on ${outcome.ranOn})`;
    const status: StepStatus = outcome.status === "unreachable" ? "failed" : outcome.status;
    const { unreachable, ...reachable } = outcome.result;
    const result: ActionResult = unreachable ? reachable : outcome.result;
    request.emit({
      type: "step.finished",
      runId: request.runId,
      target: target.name,
      phase: step.phase,
      index: step.index,
      name: step.name,
      action: step.kind,
      description,
      status,
      attempts: 0,
      result,
      startedAt: outcome.startedAt,
      ranOn: outcome.ranOn,
      ...(outcome.resumedFrom ? { resumedFrom: outcome.resumedFrom } : {}),
    });
    return { ...outcome, status, result, description };
  }
}

/**
 * What a step would change on a target (--dry-run), when its action can
 * tell without changing anything: over the same connection, delegation and
 * become user as the step would run with.
 */
export async function previewStep(
  step: CompiledStep,
  rendered: unknown,
  target: RunTarget,
  options: { connect: RunRequest["connect"]; signal: AbortSignal; baseDir: string; maxOutputBytes: number },
): Promise<ActionPreview | undefined> {
  if (!step.action.preview) return undefined;
  const { connect, signal, baseDir, maxOutputBytes } = options;
  return step.action.preview(rendered, { target, host: () => stepHost(connect, step, target, signal), signal, timeoutMs: step.timeoutMs, baseDir, maxOutputBytes });
}
