import { executeRun, journalSink, openRemotes, toRunTarget, type Remotes, type RunOutcome } from "../engine/index.ts";
import { newRunId } from "../journal/index.ts";
import { fanOut, newTraceId } from "../observe/index.ts";
import type { SshTrace } from "../transport/ssh/index.ts";
import type { JournaledRun, JournaledRunOptions, PreparedRun } from "./types.ts";

const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * Pooled SSH connections (or this machine) for a prepared run's targets. A
 * run of one plain command per target (opskit exec) gets an exec channel per
 * target rather than a remote shell: retries and waits run a command more
 * than once, so only a single step without them counts as one command.
 */
export async function openRunRemotes(prepared: PreparedRun, sshTrace?: SshTrace): Promise<Remotes> {
  const { steps, hooks } = prepared.compiled;
  const commandSteps = [...hooks.pre, ...steps, ...hooks.post, ...hooks.on_failure, ...hooks.rollback].filter((s) => s.kind === "ssh" || s.kind === "script");
  const single = commandSteps.length === 1 && commandSteps[0]!.attempts === 1 && !commandSteps.some((s) => s.kind === "script");
  return openRemotes(prepared.loaded, prepared.targets, single ? 1 : Number.POSITIVE_INFINITY, prepared.localEnvironment, sshTrace);
}

/**
 * Executes a prepared run as one journaled run: records its start, applies
 * the workflow's shadow declaration when the caller hands in shadowing,
 * fans every event out to the journal and the caller's sinks (secrets
 * masked once for all), and resolves once the run finished and the journal
 * holds all of it.
 */
export async function startJournaledRun(prepared: PreparedRun, options: JournaledRunOptions): Promise<JournaledRun> {
  const { journal, progress } = options;
  const runId = options.runId ?? newRunId();
  // Every run is a trace, exported or not: its id is recorded, so a collector's trace and the journal's run find each other.
  const trace = { traceId: options.trace?.traceId ?? newTraceId(), ...(options.trace?.parentSpanId ? { parentSpanId: options.trace.parentSpanId } : {}) };
  const maxOutputBytes = options.maxOutputBytes ?? MAX_OUTPUT_BYTES;
  // The legacy command beside a share of runs, or in place of the compared step once fallen back.
  const shadow =
    options.shadow && prepared.compiled.workflow.shadow
      ? await options.shadow(prepared.compiled, { name: prepared.name, runId, journal, loaded: prepared.loaded, maxOutputBytes })
      : undefined;
  await journal.startRun({ id: runId, kind: prepared.kind, name: prepared.name, params: prepared.params, traceId: trace.traceId, ...(progress ? { resumedFrom: progress.runId } : {}) });
  for (const note of shadow?.notes ?? []) options.onNote?.(note);
  const remotes = options.remotes ?? (await openRunRemotes(prepared, options.sshTrace));
  const record = journalSink(journal);
  let outcome: RunOutcome;
  try {
    outcome = await executeRun({
      runId,
      kind: prepared.kind,
      name: prepared.name,
      compiled: shadow?.compiled ?? prepared.compiled,
      targets: prepared.targets.map(toRunTarget),
      vars: prepared.vars,
      connect: (target, signal) => remotes.connect(target.name, signal),
      // Connections the caller handed in are the caller's to keep for its next run.
      ...(options.remotes ? {} : { release: (target) => remotes.release(target.name) }),
      baseDir: prepared.loaded.baseDir,
      maxOutputBytes,
      stream: options.stream === true,
      signal: options.signal ?? new AbortController().signal,
      hardSignal: options.hardSignal ?? new AbortController().signal,
      emit: fanOut([record, ...(options.sinks ?? [])]),
      ...(options.owedRollback ? { owedRollback: options.owedRollback.map(toRunTarget) } : {}),
      ...(progress ? { progress } : {}),
      ...(options.approvals ? { approvals: options.approvals } : {}),
      ...(options.approvable ? { approvable: true } : {}),
      trace,
    });
  } catch (error) {
    // What the journal was given is written before the caller closes it; the run's own failure is the one to report.
    await record.drained().catch(() => undefined);
    throw error;
  } finally {
    if (!options.remotes) await remotes.close();
  }
  for (const note of (await shadow?.finish()) ?? []) options.onNote?.(note);
  // Resolved only once the journal holds the whole run: a write that failed fails the run's caller here.
  await record.drained();
  return { ...outcome, runId, traceId: trace.traceId };
}
