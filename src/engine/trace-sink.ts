import type { OpenSpan, SpanAttributes, SpanRecorder } from "../observe/index.ts";
import { newSpanId } from "../observe/index.ts";
import type { EventSink, RunEvent } from "./events.ts";

/**
 * Runs as traces: a sink of run events that turns each run into a span tree,
 * run → batch → target → step, with the ids the engine named in its events
 * (a step's span id is the one its TRACEPARENT carried). Rollbacks hang
 * under a `rollback` span beside the batches. Spans are exported as they
 * end; the engine knows nothing of this (DESIGN.md: a new output is a sink).
 * One sink serves any number of runs at once (a server's remediations).
 */
export function runTraceSink(recorder: SpanRecorder): EventSink {
  const runs = new Map<string, RunSpans>();
  return (event) => {
    if (event.type === "run.started") {
      runs.set(event.runId, new RunSpans(recorder, event));
      return;
    }
    const run = runs.get(event.runId);
    if (!run) return;
    run.apply(event);
    if (event.type === "run.finished") runs.delete(event.runId);
  };
}

type Started = Extract<RunEvent, { type: "run.started" }>;
type Held = { span: OpenSpan; spanId: string };

const failed = (status: string) => status === "failed" || status === "unreachable" || status === "interrupted";

/** The spans of one run under way, by what their events name them. */
class RunSpans {
  readonly #traceId: string;
  readonly #run: Held;
  readonly #batches = new Map<number, Held & { lastEnd?: number }>();
  readonly #targets = new Map<string, Held>();
  readonly #steps = new Map<string, Held>();
  #rollback: Held | undefined;
  readonly #rollbackTargets = new Map<string, Held>();

  constructor(
    private readonly recorder: SpanRecorder,
    started: Started,
  ) {
    this.#traceId = started.traceId;
    this.#run = {
      spanId: started.spanId,
      span: recorder.start({
        name: `run ${started.name}`,
        traceId: started.traceId,
        spanId: started.spanId,
        ...(started.parentSpanId ? { parentSpanId: started.parentSpanId } : {}),
        attributes: {
          "opskit.run.id": started.runId,
          "opskit.run.kind": started.kind,
          "opskit.workflow": started.name,
          "opskit.run.targets": started.targets.length,
          "opskit.run.batches": started.batches.length,
        },
      }),
    };
  }

  #start(name: string, parent: Held, spanId: string, attributes: SpanAttributes, startTime?: number): Held {
    return { spanId, span: this.recorder.start({ name, traceId: this.#traceId, spanId, parentSpanId: parent.spanId, attributes, ...(startTime !== undefined ? { startTime } : {}) }) };
  }

  /** Batches end when their last target does; a batch still open when the next starts (or the run ends) ends then. */
  #endBatches(): void {
    for (const [n, batch] of this.#batches) {
      batch.span.end(batch.lastEnd);
      this.#batches.delete(n);
    }
  }

  apply(event: RunEvent): void {
    switch (event.type) {
      case "batch.started":
        this.#endBatches();
        this.#batches.set(event.batch, this.#start(`batch ${event.batch}/${event.of}`, this.#run, event.spanId, { "opskit.run.id": event.runId, "opskit.batch": event.batch, "opskit.batch.of": event.of, "opskit.batch.targets": event.targets.length }));
        return;
      case "target.started": {
        const parent = this.#batches.get(event.batch) ?? this.#run;
        const labels = Object.fromEntries(Object.entries(event.labels).map(([k, v]) => [`opskit.target.label.${k}`, v]));
        this.#targets.set(event.target, this.#start(`target ${event.target}`, parent, event.spanId, { "opskit.run.id": event.runId, "opskit.target.name": event.target, "opskit.target.host": event.host, "opskit.batch": event.batch, ...labels }));
        return;
      }
      case "step.started":
        this.#steps.set(stepKey(event), this.#start(`step ${event.name}`, this.#stepParent(event.target, event.phase), event.spanId, stepAttributes(event)));
        return;
      case "step.finished":
        return this.#stepFinished(event);
      case "target.finished":
        return this.#targetFinished(event);
      case "run.stopping":
        this.#run.span.addEvent("run.stopping", { "opskit.run.stop_reason": event.reason, "opskit.run.stop_detail": event.detail });
        return;
      case "rollback.started":
        this.#endBatches();
        this.#rollback = this.#start("rollback", this.#run, newSpanId(), { "opskit.run.id": event.runId, "opskit.rollback.targets": event.targets.length });
        return;
      case "run.finished":
        return this.#finished(event);
      default:
        return;
    }
  }

  /** A step runs under its target; a rollback's steps (after their target ended) under that target's rollback span. */
  #stepParent(target: string, phase: string): Held {
    const open = this.#targets.get(target);
    if (open && phase !== "rollback") return open;
    if (phase === "rollback" && this.#rollback) {
      let held = this.#rollbackTargets.get(target);
      if (!held) {
        held = this.#start(`rollback ${target}`, this.#rollback, newSpanId(), { "opskit.target.name": target });
        this.#rollbackTargets.set(target, held);
      }
      return held;
    }
    return open ?? this.#run;
  }

  #stepFinished(event: Extract<RunEvent, { type: "step.finished" }>): void {
    const key = stepKey(event);
    // A step skipped, refused or finished in an earlier run had no start: its span covers its decision.
    const held = this.#steps.get(key) ?? this.#start(`step ${event.name}`, this.#stepParent(event.target, event.phase), newSpanId(), stepAttributes(event), Date.parse(event.startedAt) || undefined);
    this.#steps.delete(key);
    const { result } = event;
    held.span.setAttributes({
      "opskit.step.status": event.status,
      "opskit.step.attempts": event.attempts,
      "opskit.step.changed": result.changed,
      ...(result.exitCode !== null ? { "opskit.step.exit_code": result.exitCode } : {}),
      ...(result.error ? { "opskit.step.error": result.error.message, "opskit.step.error_code": result.error.code } : {}),
      ...(event.resumedFrom ? { "opskit.step.resumed_from": event.resumedFrom } : {}),
      ...(event.ranOn ? { "opskit.step.ran_on": event.ranOn } : {}),
      ...(event.status === "skipped" && typeof result.data?.reason === "string" ? { "opskit.step.skip_reason": result.data.reason } : {}),
    });
    if (failed(event.status)) held.span.fail(result.error?.message ?? event.status);
    held.span.end();
  }

  #targetFinished(event: Extract<RunEvent, { type: "target.finished" }>): void {
    const rolledBack = event.status === "rolled_back";
    const held = rolledBack ? this.#rollbackTargets.get(event.target) : this.#targets.get(event.target);
    if (!held) return;
    (rolledBack ? this.#rollbackTargets : this.#targets).delete(event.target);
    held.span.setAttributes({ "opskit.target.status": event.status, "opskit.target.changed": event.changed, ...(event.error ? { "opskit.target.error": event.error } : {}) });
    if (failed(event.status)) held.span.fail(event.error ?? event.status);
    const now = Date.now();
    held.span.end(now);
    const batch = this.#batches.get(event.batch);
    if (batch) batch.lastEnd = now;
  }

  #finished(event: Extract<RunEvent, { type: "run.finished" }>): void {
    // Whatever an interrupted run left open ends with it.
    for (const held of [...this.#steps.values(), ...this.#targets.values(), ...this.#rollbackTargets.values()]) held.span.end();
    this.#endBatches();
    this.#rollback?.span.end();
    const { counts } = event;
    this.#run.span.setAttributes({
      "opskit.run.status": event.status,
      "opskit.run.ok": counts.ok,
      "opskit.run.changed": counts.changed,
      "opskit.run.failed": counts.failed,
      "opskit.run.unreachable": counts.unreachable,
      "opskit.run.skipped": counts.skipped,
      "opskit.run.not_started": counts.notStarted,
      "opskit.run.rolled_back": counts.rolledBack,
    });
    if (event.status !== "succeeded") this.#run.span.fail(`run ${event.status}: ${counts.failed} failed, ${counts.unreachable} unreachable`);
    this.#run.span.end();
  }
}

const stepKey = (event: { target: string; phase: string; index: number }) => `${event.target}\u0000${event.phase}\u0000${event.index}`;

function stepAttributes(event: { runId: string; target: string; phase: string; index: number; name: string; action: string; description: string }): SpanAttributes {
  return {
    "opskit.run.id": event.runId,
    "opskit.target.name": event.target,
    "opskit.step.name": event.name,
    "opskit.step.phase": event.phase,
    "opskit.step.index": event.index,
    "opskit.step.action": event.action,
    "opskit.step.description": event.description,
  };
}
