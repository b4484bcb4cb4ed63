import { afterEach, describe, expect, test } from "bun:test";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { startRecorder } from "../observe/trace-otel.ts";
import type { Tracing } from "../observe/index.ts";
import type { ActionResult } from "../actions/index.ts";
import type { RunEvent } from "./events.ts";
import { runTraceSink } from "./trace-sink.ts";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const ids = { run: "1000000000000001", b1: "1000000000000002", b2: "1000000000000003", web1: "1000000000000004", web2: "1000000000000005", db1: "1000000000000006", s1: "1000000000000007", s2: "1000000000000008", s3: "1000000000000009", s4: "100000000000000a" };
const runId = "run-1";
const ok: ActionResult = { ok: true, changed: true, exitCode: 0, stdout: "", stderr: "", durationMs: 5 };
const bad: ActionResult = { ok: false, changed: false, exitCode: 3, stdout: "", stderr: "boom", durationMs: 5, error: { code: "E_EXIT_STATUS", message: "exit status 3" } };
const counts = { targets: 3, ok: 1, changed: 0, failed: 1, unreachable: 0, skipped: 0, notStarted: 1, rolledBack: 1 };
const at = "2026-11-25T12:00:00.000Z";

function finished(target: string, name: string, index: number, status: "ok" | "changed" | "failed" | "skipped", result: ActionResult, phase: "main" | "rollback" = "main"): RunEvent {
  return { type: "step.finished", runId, target, phase, index, name, action: "exec", description: `exec: ${name}`, status, attempts: status === "skipped" ? 0 : 2, result, startedAt: at };
}

/** Two batches: web-1 and web-2 (web-2 fails its second step), then db-1 with a skipped step; web-1 is rolled back. */
const events: RunEvent[] = [
  { type: "run.started", runId, kind: "workflow", name: "deploy", targets: ["web-1", "web-2", "db-1"], batches: [["web-1", "web-2"], ["db-1"]], vars: {}, dryRun: false, traceId, spanId: ids.run },
  { type: "batch.started", runId, batch: 1, of: 2, targets: ["web-1", "web-2"], spanId: ids.b1 },
  { type: "target.started", runId, target: "web-1", batch: 1, spanId: ids.web1, host: "10.0.0.1", labels: { role: "web", zone: "a" } },
  { type: "target.started", runId, target: "web-2", batch: 1, spanId: ids.web2, host: "10.0.0.2", labels: { role: "web" } },
  { type: "step.started", runId, target: "web-1", phase: "main", index: 0, name: "restart", action: "exec", description: "exec: restart", spanId: ids.s1 },
  { type: "step.started", runId, target: "web-2", phase: "main", index: 0, name: "restart", action: "exec", description: "exec: restart", spanId: ids.s2 },
  { type: "step.output", runId, target: "web-1", step: "restart", stream: "stdout", text: "ok\n" },
  finished("web-1", "restart", 0, "changed", ok),
  finished("web-2", "restart", 0, "changed", ok),
  { type: "step.started", runId, target: "web-2", phase: "main", index: 1, name: "check", action: "exec", description: "exec: check", spanId: ids.s3 },
  finished("web-2", "check", 1, "failed", bad),
  { type: "target.finished", runId, target: "web-1", batch: 1, status: "changed", changed: true, durationMs: 10, startedAt: at },
  { type: "target.finished", runId, target: "web-2", batch: 1, status: "failed", changed: true, durationMs: 10, error: "check: exit status 3", startedAt: at },
  { type: "batch.started", runId, batch: 2, of: 2, targets: ["db-1"], spanId: ids.b2 },
  { type: "target.started", runId, target: "db-1", batch: 2, spanId: ids.db1, host: "10.0.0.3", labels: {} },
  finished("db-1", "migrate", 0, "skipped", { ...ok, changed: false, exitCode: null, data: { skipped: true, reason: "when was false" } }),
  { type: "target.finished", runId, target: "db-1", batch: 2, status: "skipped", changed: false, durationMs: 1, startedAt: at },
  { type: "run.stopping", runId, reason: "budget", detail: "1 failed, more than maxFailures 0" },
  { type: "rollback.started", runId, targets: ["web-1"] },
  { type: "step.started", runId, target: "web-1", phase: "rollback", index: 0, name: "undo", action: "exec", description: "exec: undo", spanId: ids.s4 },
  finished("web-1", "undo", 0, "ok", { ...ok, changed: false }, "rollback"),
  { type: "target.finished", runId, target: "web-1", batch: 0, status: "rolled_back", changed: true, durationMs: 3, startedAt: at },
  { type: "run.finished", runId, status: "failed", counts, durationMs: 20 },
];

let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
});

async function spansOf(sequence: RunEvent[]): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  tracing = startRecorder(exporter, { serviceName: "opskit", processor: "simple", propagate: false });
  const sink = runTraceSink(tracing.recorder);
  for (const event of sequence) sink(event);
  await tracing.flush();
  return exporter.getFinishedSpans();
}

const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: ReadableSpan[], name: string, where: (s: ReadableSpan) => boolean = () => true) => {
  const found = spans.filter((s) => s.name === name && where(s));
  expect(found).toHaveLength(1);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe("run trace sink", () => {
  test("a run is a span tree run → batch → target → step with the ids its events named, all in the run's trace", async () => {
    const spans = await spansOf(events);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
    const run = one(spans, "run deploy");
    expect(run.spanContext().spanId).toBe(ids.run);
    expect(parentOf(run)).toBeUndefined();
    const [b1, b2] = [one(spans, "batch 1/2"), one(spans, "batch 2/2")];
    expect([b1.spanContext().spanId, parentOf(b1), b2.spanContext().spanId, parentOf(b2)]).toEqual([ids.b1, ids.run, ids.b2, ids.run]);
    const web1 = one(spans, "target web-1");
    expect([web1.spanContext().spanId, parentOf(web1)]).toEqual([ids.web1, ids.b1]);
    expect(parentOf(one(spans, "target web-2"))).toBe(ids.b1);
    expect(parentOf(one(spans, "target db-1"))).toBe(ids.b2);
    const restart1 = one(spans, "step restart", (s) => s.spanContext().spanId === ids.s1);
    expect(parentOf(restart1)).toBe(ids.web1);
    const check = one(spans, "step check");
    expect([check.spanContext().spanId, parentOf(check)]).toEqual([ids.s3, ids.web2]);
    // A step with no start (skipped) still has its span under its target.
    expect(parentOf(one(spans, "step migrate"))).toBe(ids.db1);
  });

  test("attributes: run, target (name, host, labels), step (name, action, status, exit code, attempts, changed, error)", async () => {
    const spans = await spansOf(events);
    expect(one(spans, "run deploy").attributes).toMatchObject({ "opskit.run.id": runId, "opskit.workflow": "deploy", "opskit.run.kind": "workflow", "opskit.run.status": "failed", "opskit.run.failed": 1, "opskit.run.rolled_back": 1 });
    expect(one(spans, "target web-1").attributes).toMatchObject({ "opskit.target.name": "web-1", "opskit.target.host": "10.0.0.1", "opskit.target.label.role": "web", "opskit.target.label.zone": "a", "opskit.target.status": "changed", "opskit.target.changed": true });
    expect(one(spans, "step check").attributes).toMatchObject({
      "opskit.run.id": runId, "opskit.step.name": "check", "opskit.step.action": "exec", "opskit.step.phase": "main", "opskit.step.status": "failed",
      "opskit.step.exit_code": 3, "opskit.step.attempts": 2, "opskit.step.changed": false, "opskit.step.error": "exit status 3",
    });
    expect(one(spans, "step migrate").attributes).toMatchObject({ "opskit.step.status": "skipped", "opskit.step.skip_reason": "when was false" });
    expect(one(spans, "run deploy").events.map((e) => [e.name, e.attributes?.["opskit.run.stop_reason"]])).toEqual([["run.stopping", "budget"]]);
  });

  test("failures are status ERROR up the tree where they failed; what succeeded is not", async () => {
    const spans = await spansOf(events);
    expect(one(spans, "step check").status).toEqual({ code: 2, message: "exit status 3" });
    expect(one(spans, "target web-2").status).toEqual({ code: 2, message: "check: exit status 3" });
    expect(one(spans, "run deploy").status.code).toBe(2);
    expect(one(spans, "step restart", (s) => s.spanContext().spanId === ids.s1).status.code).toBe(0);
    expect(one(spans, "target web-1").status.code).toBe(0);
    expect(one(spans, "step migrate").status.code).toBe(0);
  });

  test("a rollback hangs under a rollback span beside the batches, its steps under the target's rollback", async () => {
    const spans = await spansOf(events);
    const rollback = one(spans, "rollback");
    expect(parentOf(rollback)).toBe(ids.run);
    const target = one(spans, "rollback web-1");
    expect(parentOf(target)).toBe(rollback.spanContext().spanId);
    const undo = one(spans, "step undo");
    expect([undo.spanContext().spanId, parentOf(undo)]).toEqual([ids.s4, target.spanContext().spanId]);
  });

  test("a run under another span (a remediation under its attempt) keeps that parent; events of runs never started are ignored", async () => {
    const started = { ...events[0]!, parentSpanId: "2000000000000001" } as RunEvent;
    const spans = await spansOf([{ type: "target.started", runId: "other", target: "x", batch: 1, spanId: "3000000000000001", host: "h", labels: {} }, started, events.at(-1)!]);
    expect(spans.map((s) => s.name)).toEqual(["run deploy"]);
    expect(parentOf(spans[0]!)).toBe("2000000000000001");
  });

  test("an interrupted run ends every span it left open", async () => {
    const cut = [...events.slice(0, 6), { type: "run.finished", runId, status: "interrupted", counts, durationMs: 5 } as RunEvent];
    const spans = await spansOf(cut);
    expect(byName(spans, "step restart")).toHaveLength(2);
    expect(byName(spans, "target web-1")).toHaveLength(1);
    expect(byName(spans, "batch 1/2")).toHaveLength(1);
    expect(one(spans, "run deploy").attributes["opskit.run.status"]).toBe("interrupted");
  });
});
