// What both journals map the same way between records and their columns:
// the names come from these fixed tables, never from a caller's string, so
// no value ever reaches SQL text; only the row reading differs (SQLite keeps
// JSON as text, PostgreSQL hands it back parsed).
import { milestones } from "./types.ts";
import type { StepSummary } from "./browse-types.ts";
import type { IncidentStore, Milestone, StepPhase, StepProgressRecord, StepRecord, StepStatus } from "./types.ts";

/** Each milestone's column, from the fixed list in types.ts; anything else is refused. */
const milestoneColumns = new Map(milestones.map((m) => [m, `${m}_at`] as const));
export function milestoneColumn(m: Milestone): string {
  const column = milestoneColumns.get(m);
  if (column === undefined) throw new Error(`unknown milestone ${JSON.stringify(m)}`);
  return column;
}

export type IncidentPatch = Parameters<IncidentStore["updateIncident"]>[1];
export type AttemptPatch = Parameters<IncidentStore["updateAttempt"]>[2];

/** The fields a patch may touch and their columns; the SET list is built only from these names. */
export const incidentPatchColumns: Record<keyof IncidentPatch, string> = {
  status: "status", attempts: "attempts", escalated: "escalated", automated: "automated", resolution: "resolution",
  notifications: "notifications", lastNotifiedAt: "last_notified_at", labels: "labels", annotations: "annotations", rule: "rule",
};
export const attemptPatchColumns: Record<keyof AttemptPatch, string> = { status: "status", runId: "run_id", startedAt: "started_at", finishedAt: "finished_at", detail: "detail", owner: "owner" };

/** What a step_results row says beside its output, in both the whole record and the summary. */
function stepFields(runId: string, r: Record<string, unknown>) {
  return {
    runId,
    target: r.target as string,
    phase: r.phase as StepPhase,
    index: r.idx as number,
    name: r.name as string,
    action: r.action as string,
    status: r.status as StepStatus,
    exitCode: r.exit_code as number | null,
    durationMs: r.duration_ms as number,
    attempts: r.attempts as number,
    ...(r.error ? { error: r.error as string } : {}),
    startedAt: r.started_at as string,
  };
}

/** A step_results row as the record `getRun` lists. */
export function stepFromRow(runId: string, r: Record<string, unknown>): StepRecord {
  return { ...stepFields(runId, r), stdout: r.stdout as string, stderr: r.stderr as string };
}

/** A step_results row read with its output's sizes instead of the output (`runSummary`). */
export function stepSummaryFromRow(runId: string, r: Record<string, unknown>): StepSummary {
  return { ...stepFields(runId, r), stdoutBytes: r.stdout_bytes as number, stderrBytes: r.stderr_bytes as number };
}

/**
 * A step_progress row joined with its step_results row (absent while the
 * step has not finished) as the record; `data` reads the result's data
 * column, which each journal stores its own way.
 */
export function stepProgressFromRow(runId: string, r: Record<string, unknown>, data: (value: unknown) => Record<string, unknown>): StepProgressRecord {
  const base = { runId, target: r.target as string, phase: r.phase as StepPhase, index: r.idx as number, name: r.name as string, startedAt: r.started_at as string };
  if (r.finished_at === null || r.status === null) return base;
  return {
    ...base,
    finishedAt: r.finished_at as string,
    ...(r.resumed_from ? { resumedFrom: r.resumed_from as string } : {}),
    result: {
      runId,
      target: base.target,
      phase: base.phase,
      index: base.index,
      name: base.name,
      action: (r.action as string | null) ?? "",
      status: r.status as StepStatus,
      exitCode: (r.exit_code as number | null) ?? null,
      stdout: (r.stdout as string | null) ?? "",
      stderr: (r.stderr as string | null) ?? "",
      durationMs: (r.duration_ms as number | null) ?? 0,
      attempts: (r.attempts as number | null) ?? 0,
      ...(r.error ? { error: r.error as string } : {}),
      startedAt: base.startedAt,
      ...(r.data ? { data: data(r.data) } : {}),
    },
  };
}
