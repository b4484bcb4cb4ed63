import { afterEach, describe, expect, test } from "bun:test";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { attemptSpanId, escalationSpanId, incidentSpanId, type Tracing } from "../observe/index.ts";
import { startRecorder } from "../observe/trace-otel.ts";
import type { HealEvent } from "./events.ts";
import { incidentTraceSink, type IncidentTraceOptions } from "./trace-sink.ts";

const traceId = "0af7651916cd43dd8448eb211c80319c";
const t0 = Date.UTC(2026, 10, 25, 3, 12, 0);
const root = incidentSpanId(traceId);

const lifecycle: HealEvent[] = [
  { type: "incident.opened", incidentId: 7, title: "HighErrorRate", fingerprint: "fp-7", rule: "restart-api", labels: { alertname: "HighErrorRate", service: "api" }, source: "alertmanager", receivedAt: t0, traceId },
  { type: "incident.milestone", incidentId: 7, milestone: "detected", at: t0 },
  { type: "alert.received", source: "alertmanager", fingerprint: "fp-7", status: "firing", alertname: "HighErrorRate", incidentId: 7, outcome: "opened", receivedAt: t0 },
  { type: "alert.received", source: "alertmanager", fingerprint: "fp-7", status: "firing", alertname: "HighErrorRate", incidentId: 7, outcome: "repeat", receivedAt: t0 + 5 },
  { type: "incident.gate", incidentId: 7, rule: "restart-api", gate: "approval", reason: "waiting for approval" },
  { type: "remediation.approved", incidentId: 7, rule: "restart-api", attempt: 1, at: t0 + 10 },
  { type: "remediation.started", incidentId: 7, rule: "restart-api", attempt: 1, maxAttempts: 2, runId: "run-a", workflow: "restart", targets: ["web-1"], at: t0 + 20, traceId, spanId: attemptSpanId(traceId, 1) },
  { type: "remediation.finished", incidentId: 7, rule: "restart-api", attempt: 1, runId: "run-a", status: "failed", durationMs: 30, detail: "run run-a failed", at: t0 + 50 },
  { type: "remediation.started", incidentId: 7, rule: "restart-api", attempt: 2, maxAttempts: 2, runId: "run-b", workflow: "restart", targets: ["web-1"], at: t0 + 60, traceId, spanId: attemptSpanId(traceId, 2) },
  { type: "remediation.finished", incidentId: 7, rule: "restart-api", attempt: 2, runId: "run-b", status: "succeeded", durationMs: 40, at: t0 + 100 },
  { type: "incident.escalated", incidentId: 7, rule: "restart-api", reason: "escalated: page", at: t0 + 110, traceId },
  { type: "escalation.finished", incidentId: 7, rule: "restart-api", runId: "run-e", ok: false, detail: "pager down", at: t0 + 120 },
  { type: "notifications.processed", count: 3, lagMs: 2 },
  { type: "incident.resolved", incidentId: 7, title: "HighErrorRate", resolution: "alert resolved", milestones: { started: t0 - 1000, detected: t0, remediation_started: t0 + 20, remediated: t0 + 100, resolved: t0 + 200 }, traceId },
];

let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
});

async function spansOf(sequence: HealEvent[], options: IncidentTraceOptions = {}, settle?: () => Promise<unknown>): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  tracing = startRecorder(exporter, { serviceName: "opskit", processor: "simple", propagate: false });
  const sink = incidentTraceSink(tracing.recorder, options);
  for (const event of sequence) sink(event);
  await settle?.();
  await tracing.flush();
  return exporter.getFinishedSpans();
}

const one = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const ms = (time: [number, number]) => time[0] * 1000 + Math.round(time[1] / 1e6);

describe("incident trace sink", () => {
  test("an incident's intake, gates, approval, attempts and escalation are spans of its trace under its root", async () => {
    const spans = await spansOf(lifecycle);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
    const names = spans.map((s) => s.name).sort();
    expect(names).toEqual(["alert.received", "attempt 1", "attempt 2", "escalation.finished", "gate approval", "incident 7", "incident.escalated", "incident.opened", "remediation.approved"]);
    for (const span of spans.filter((s) => s.name !== "incident 7")) expect(parentOf(span)).toBe(root);
    expect(one(spans, "alert.received").attributes).toMatchObject({ "opskit.incident.id": 7, "opskit.alert.outcome": "opened", "opskit.alert.source": "alertmanager" });
    expect(one(spans, "alert.received").kind).toBe(1 /* SERVER */);
    expect(one(spans, "incident.opened").attributes).toMatchObject({ "opskit.alert.label.service": "api", "opskit.rule": "restart-api", "opskit.incident.title": "HighErrorRate" });
    expect(one(spans, "gate approval").attributes).toMatchObject({ "opskit.gate": "approval", "opskit.gate.reason": "waiting for approval" });
  });

  test("attempts span from their start to their end under the ids their runs name as parent, failures in ERROR", async () => {
    const spans = await spansOf(lifecycle);
    const [first, second] = [one(spans, "attempt 1"), one(spans, "attempt 2")];
    expect(first.spanContext().spanId).toBe(attemptSpanId(traceId, 1));
    expect(second.spanContext().spanId).toBe(attemptSpanId(traceId, 2));
    expect([ms(first.startTime), ms(first.endTime)]).toEqual([t0 + 20, t0 + 50]);
    expect(first.status).toEqual({ code: 2, message: "run run-a failed" });
    expect(first.attributes).toMatchObject({ "opskit.attempt": 1, "opskit.run.id": "run-a", "opskit.workflow": "restart", "opskit.attempt.status": "failed" });
    expect(second.status.code).toBe(0);
    expect(one(spans, "incident.escalated").spanContext().spanId).toBe(escalationSpanId(traceId));
    expect(one(spans, "escalation.finished").status).toEqual({ code: 2, message: "pager down" });
  });

  test("the root is made at resolution from the milestones: its derived id, start to resolve, each milestone an event", async () => {
    const spans = await spansOf(lifecycle);
    const incident = one(spans, "incident 7");
    expect(incident.spanContext().spanId).toBe(root);
    expect(parentOf(incident)).toBeUndefined();
    expect([ms(incident.startTime), ms(incident.endTime)]).toEqual([t0 - 1000, t0 + 200]);
    expect(incident.events.map((e) => e.name)).toEqual(["started", "detected", "remediation_started", "remediated", "resolved"]);
    expect(incident.attributes).toMatchObject({ "opskit.incident.id": 7, "opskit.incident.resolution": "alert resolved", "opskit.incident.automated": true });
  });

  test("events about an incident this process did not open wait for its trace id from the journal, in order", async () => {
    const asked: number[] = [];
    let answer!: (traceId: string | undefined) => void;
    const found = new Promise<string | undefined>((resolve) => (answer = resolve));
    const traceOf = (id: number) => {
      asked.push(id);
      return found;
    };
    const later = lifecycle.filter((e) => e.type === "incident.gate" || e.type === "remediation.finished" || e.type === "incident.resolved").map((e) => ({ ...e, traceId: undefined }) as HealEvent);
    const spans = await spansOf(later, { traceOf }, async () => {
      answer(traceId);
      await found;
    });
    expect(asked).toEqual([7]);
    expect(spans.map((s) => s.name).sort()).toEqual(["attempt 1", "attempt 2", "gate approval", "incident 7"]);
    for (const span of spans) expect(span.spanContext().traceId).toBe(traceId);
    // An attempt whose start another replica reported is still the span its run names as parent.
    expect(one(spans, "attempt 1").spanContext().spanId).toBe(attemptSpanId(traceId, 1));
  });

  test("who approved or denied an attempt, and when a wait ends, are attributes of their spans", async () => {
    const until = t0 + 60_000;
    const spans = await spansOf([
      lifecycle[0]!,
      { type: "incident.gate", incidentId: 7, rule: "restart-api", gate: "cooldown", reason: "suppressed: cooldown, 1m left", until },
      { type: "remediation.approved", incidentId: 7, rule: "restart-api", attempt: 1, at: t0 + 10, by: "ana" },
      { type: "remediation.denied", incidentId: 7, rule: "restart-api", attempt: 2, by: "bo", reason: "not at night", at: t0 + 20 },
    ]);
    expect(one(spans, "gate cooldown").attributes["opskit.gate.until"]).toBe(new Date(until).toISOString());
    expect(one(spans, "remediation.approved").attributes["opskit.approved_by"]).toBe("ana");
    expect(one(spans, "remediation.denied").attributes).toMatchObject({ "opskit.attempt": 2, "opskit.denied_by": "bo", "opskit.denied_reason": "not at night" });
    expect(parentOf(one(spans, "remediation.denied"))).toBe(root);
  });

  test("repeat notifications and milestones are no spans, and cost no journal read", async () => {
    const asked: number[] = [];
    const repeats = Array.from({ length: 50 }, (_, i) => ({ ...lifecycle[3]!, incidentId: 100 + i }) as HealEvent);
    const spans = await spansOf([...repeats, lifecycle[1]!], { traceOf: async (id) => (asked.push(id), traceId) }, () => Promise.resolve());
    expect(asked).toEqual([]);
    expect(spans).toEqual([]);
  });

  test("an incident without a trace id (opened before traces were kept) makes no spans", async () => {
    const spans = await spansOf([lifecycle[4]!], { traceOf: async () => undefined }, () => Promise.resolve());
    expect(spans).toEqual([]);
  });
});
