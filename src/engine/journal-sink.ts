import type { Journal, TargetRecord } from "../journal/index.ts";
import type { EventSink, RunEvent } from "./events.ts";

/**
 * Writes the run's events to the journal: every event as printed by --json
 * (step output excepted: it is kept in the step results, bounded), plus the
 * per-target and per-step records that `opskit runs show` and resume read,
 * and each step's progress (started, finished) that a retry continues from.
 */
export function journalSink(journal: Journal): EventSink {
  const targets = new Map<string, TargetRecord>();
  const put = (record: TargetRecord) => {
    targets.set(record.target, record);
    journal.putTarget(record);
  };
  // One commit per event, its records with it: the event row and the step's progress land together or not at
  // all, and with server.fsync a step costs one flush at its start and one at its end, not one per row.
  const record = (event: RunEvent) => {
    if (event.type !== "step.output") journal.appendEvent(event.runId, event.type, event as unknown as Record<string, unknown>);
    switch (event.type) {
      case "run.started":
        event.batches.forEach((batch, i) => {
          for (const target of batch) {
            put({ runId: event.runId, target, batch: i + 1, status: "pending", changed: false, rollbackOwed: false });
          }
        });
        return;
      case "target.started":
        put({ runId: event.runId, target: event.target, batch: event.batch, status: "running", changed: false, rollbackOwed: false, startedAt: new Date().toISOString() });
        return;
      case "step.started":
        // Written before the action runs: after a crash, the journal shows the step was under way.
        journal.startStep({ runId: event.runId, target: event.target, phase: event.phase, index: event.index, name: event.name, startedAt: new Date().toISOString() });
        return;
      case "step.finished":
        journal.putStep({
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
        });
        return;
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
        return;
      case "rollback.started":
        // Owed until each target's rollback finishes: a resume runs what is still owed.
        for (const target of event.targets) {
          const known = targets.get(target);
          put({ ...(known ?? { runId: event.runId, target, batch: 0, status: "changed", changed: true }), rollbackOwed: true });
        }
        return;
      case "run.finished":
        journal.finishRun(event.runId, event.status, { counts: event.counts, durationMs: event.durationMs });
        return;
      default:
        return;
    }
  };
  return (event: RunEvent) => {
    if (event.type === "step.output") return;
    journal.transaction(() => record(event));
  };
}
