import type { ActionResult } from "../actions/index.ts";
import type { RunStatus, StepPhase, StepStatus, TargetStatus } from "../journal/index.ts";
import { secrets, type Sink } from "../observe/index.ts";

/**
 * The engine's only output: a typed stream of events. Sinks (terminal,
 * JSON lines, journal, later metrics and traces) subscribe; the engine never
 * prints or writes the journal itself.
 */
export type RunEvent =
  | {
      type: "run.started";
      runId: string;
      kind: "workflow" | "exec";
      name: string;
      targets: string[];
      batches: string[][];
      vars: Record<string, unknown>;
      dryRun: boolean;
      /** W3C trace id (32 hex) and the run's span (16 hex); a remediation's trace is its incident's, its parent the attempt's span. */
      traceId: string;
      spanId: string;
      parentSpanId?: string;
    }
  | { type: "batch.started"; runId: string; batch: number; of: number; targets: string[]; spanId: string }
  | { type: "target.started"; runId: string; target: string; batch: number; spanId: string; host: string; labels: Record<string, string> }
  /** `spanId` is the step's span, named before its action runs: TRACEPARENT and traceparent headers carry it when traces are exported. */
  | { type: "step.started"; runId: string; target: string; phase: StepPhase; index: number; name: string; action: string; description: string; spanId: string }
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
      /** Not run here: the step finished in this earlier run, which this one continues (a retry or a resume). */
      resumedFrom?: string;
      /** A runOnce step that ran for the whole run on this target (or in resumedFrom): its result, recorded for this one. */
      ranOn?: string;
    }
  | { type: "target.finished"; runId: string; target: string; batch: number; status: TargetStatus; changed: boolean; durationMs: number; error?: string; startedAt: string }
  | { type: "run.stopping"; runId: string; reason: "budget" | "interrupted"; detail: string }
  | { type: "rollback.started"; runId: string; targets: string[] }
  | { type: "run.finished"; runId: string; status: RunStatus; counts: RunCounts; durationMs: number };

export type RunCounts = Record<"ok" | "changed" | "failed" | "unreachable" | "skipped" | "notStarted" | "rolledBack", number> & { targets: number };

/** Where a run's events go (observe's fanOut combines several, secrets masked once for all). */
export type EventSink = Sink<RunEvent>;

/**
 * A step's streamed output (step.output events), masked per stream across
 * chunks, whatever the action (a remote shell's output arrives in pieces
 * too); `flush` passes on what was held back once the attempt is over.
 */
export function maskedOutput(write: (stream: "stdout" | "stderr", text: string) => void) {
  const streams = { stdout: secrets.stream(), stderr: secrets.stream() };
  return {
    onOutput(stream: "stdout" | "stderr", text: string): void {
      const out = streams[stream].push(text);
      if (out) write(stream, out);
    },
    flush(): void {
      for (const stream of ["stdout", "stderr"] as const) {
        const rest = streams[stream].flush();
        if (rest) write(stream, rest);
      }
    },
  };
}
