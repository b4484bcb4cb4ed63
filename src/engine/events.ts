import type { ActionResult } from "../actions/index.ts";
import type { RunStatus, StepPhase, StepStatus, TargetStatus } from "../journal/index.ts";

/**
 * The engine's only output: a typed stream of events. Sinks (terminal,
 * JSON lines, journal, later metrics and traces) subscribe; the engine never
 * prints or writes the journal itself.
 */
export type RunEvent =
  | { type: "run.started"; runId: string; kind: "workflow" | "exec"; name: string; targets: string[]; batches: string[][]; vars: Record<string, unknown>; dryRun: boolean }
  | { type: "batch.started"; runId: string; batch: number; of: number; targets: string[] }
  | { type: "target.started"; runId: string; target: string; batch: number }
  | { type: "step.started"; runId: string; target: string; phase: StepPhase; index: number; name: string; action: string; description: string }
  | { type: "step.output"; runId: string; target: string; step: string; stream: "stdout" | "stderr"; text: string }
  | {
      type: "step.finished";
      runId: string;
      target: string;
      phase: StepPhase;
      index: number;
      name: string;
      action: string;
      description: string;
      status: StepStatus;
      attempts: number;
      result: ActionResult;
      startedAt: string;
    }
  | { type: "target.finished"; runId: string; target: string; batch: number; status: TargetStatus; changed: boolean; durationMs: number; error?: string; startedAt: string }
  | { type: "run.stopping"; runId: string; reason: "budget" | "interrupted"; detail: string }
  | { type: "rollback.started"; runId: string; targets: string[] }
  | { type: "run.finished"; runId: string; status: RunStatus; counts: RunCounts; durationMs: number };

export type RunCounts = Record<"ok" | "changed" | "failed" | "unreachable" | "skipped" | "notStarted" | "rolledBack", number> & { targets: number };

export type EventSink = (event: RunEvent) => void;

/** Fans each event out to every sink, in order. */
export function fanOut(sinks: readonly EventSink[]): EventSink {
  return (event) => {
    for (const sink of sinks) sink(event);
  };
}
