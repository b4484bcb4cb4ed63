import type { RunEventRecords, RunStore, StepRecord, TargetRecord } from "../journal/index.ts";
import type { EventSink, RunEvent } from "./events.ts";

/** The journal sink: a synchronous sink of run events whose writes to the asynchronous journal can be waited for. */
export type JournalSink = EventSink & {
  /**
   * Resolves once every event emitted so far is written; rejects with the
   * first write that failed (an OpsError naming the journal file when the
   * file is the problem). Await it after the run, before closing the journal.
   */
  drained(): Promise<void>;
};

/** A finished step as the journal keeps it: the result, and what the action returned beside its output. */
function stepRecord(event: Extract<RunEvent, { type: "step.finished" }>): StepRecord {
  return {
    runId: event.runId,
    target: event.target,
    phase: event.phase,
    index: event.index,
    name: event.name,
    action: event.action,
    status: event.status,
    exitCode: event.result.exitCode,
    stdout: event.result.stdout,
    stderr: event.result.stderr,
    durationMs: event.result.durationMs,
    attempts: event.attempts,
    ...(event.result.error ? { error: event.result.error.message } : {}),
    startedAt: event.startedAt,
    ...(event.result.data ? { data: event.result.data } : {}),
    ...(event.resumedFrom ? { resumedFrom: event.resumedFrom } : {}),
  };
}

/** What one event changes in the journal; `targets` remembers each target's record across events. */
function recordsOf(event: RunEvent, targets: Map<string, TargetRecord>): RunEventRecords {
  const records: RunEventRecords & { targets: TargetRecord[] } = { event: { runId: event.runId, type: event.type, payload: event as unknown as Record<string, unknown> }, targets: [] };
  const put = (record: TargetRecord) => {
    targets.set(record.target, record);
    records.targets.push(record);
  };
  switch (event.type) {
    case "run.started":
      event.batches.forEach((batch, i) => {
        for (const target of batch) {
          put({ runId: event.runId, target, batch: i + 1, status: "pending", changed: false, rollbackOwed: false });
        }
      });
      break;
    case "target.started":
      put({ runId: event.runId, target: event.target, batch: event.batch, status: "running", changed: false, rollbackOwed: false, startedAt: new Date().toISOString() });
      break;
    case "step.started":
      // Written before the action runs: after a crash, the journal shows the step was under way.
      records.stepStarted = { runId: event.runId, target: event.target, phase: event.phase, index: event.index, name: event.name, startedAt: new Date().toISOString() };
      break;
    case "step.finished":
      records.step = stepRecord(event);
      break;
    case "target.finished":
      put({
        runId: event.runId,
        target: event.target,
        batch: targets.get(event.target)?.batch ?? event.batch,
        status: event.status,
        changed: event.changed,
        rollbackOwed: false,
        startedAt: event.startedAt,
        finishedAt: new Date().toISOString(),
        durationMs: event.durationMs,
        ...(event.error ? { error: event.error } : {}),
      });
      break;
    case "rollback.started":
      // Owed until each target's rollback finishes: a resume runs what is still owed.
      for (const target of event.targets) {
        const known = targets.get(target);
        put({ ...(known ?? { runId: event.runId, target, batch: 0, status: "changed", changed: true }), rollbackOwed: true });
      }
      break;
    case "run.finished":
      records.finished = { runId: event.runId, status: event.status, summary: { counts: event.counts, durationMs: event.durationMs } };
      break;
    default:
      break;
  }
  return records;
}

/**
 * Writes the run's events to the journal: every event as printed by --json
 * (step output excepted: it is kept in the step results, bounded), plus the
 * per-target and per-step records that `opskit runs show` and resume read,
 * and each step's progress (started, finished) that a retry continues from.
 *
 * Contract: call it as a sink (`fanOut([sink, display])`); events are
 * written one after another in the order emitted. Events that need no
 * barrier wait (at most until the next turn of the event loop) and share one
 * commit with the events after them (RunStore.recordRunEvent with a list): a
 * step's start is the barrier, written with everything emitted before it,
 * and `drained()` writes what waits (a remediation's single `exec` step is two commits).
 * A write that fails is never an unhandled rejection: the next event emitted
 * throws that failure into the engine (which stops the run, as a synchronous
 * journal's throw did), nothing more is written, and `drained()` rejects
 * with it. With SQLite a step's start emitted while nothing is pending is
 * committed inside the emit, so it is on disk before its action runs.
 */
export function journalSink(journal: RunStore): JournalSink {
  // Remembered across events: a target's batch, and what a rollback starts from.
  const targets = new Map<string, TargetRecord>();
  // One write after another, in the order emitted: a write waits for the one before unless none is pending.
  let pending = 0;
  let tail: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  // Events emitted and not yet handed to a write; `scheduled` while a flush is set for the next turn.
  let waiting: RunEventRecords[] = [];
  let scheduled = false;
  const write = (records: RunEventRecords[]): Promise<void> => {
    if (failure) return Promise.resolve();
    try {
      return journal.recordRunEvent(records);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const flush = (): void => {
    if (waiting.length === 0) return;
    const records = waiting;
    waiting = [];
    pending++;
    const written = pending === 1 ? write(records) : tail.then(() => write(records));
    tail = written
      .then(
        () => undefined,
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => {
        pending--;
      });
  };
  const sink = (event: RunEvent): void => {
    if (event.type === "step.output") return;
    if (failure) throw failure.error;
    // The records are taken now, at the emit: the targets they remember are the run's as it stands.
    waiting.push(recordsOf(event, targets));
    if (event.type === "step.started") flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        flush();
      });
    }
  };
  return Object.assign(sink, {
    async drained(): Promise<void> {
      flush();
      await tail;
      if (failure) throw failure.error;
    },
  });
}
