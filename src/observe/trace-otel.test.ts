import { describe, expect, test } from "bun:test";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { startRecorder } from "./trace-otel.ts";
import { attemptSpanId, derivedSpanId, formatTraceparent, incidentSpanId, isSpanId, isTraceId, newSpanId, newTraceId, parseTraceparent, tracePropagation } from "./trace-ids.ts";

describe("trace ids", () => {
  test("new ids are W3C ids: 32 and 16 lowercase hex digits, not all zero, different each time", () => {
    const traces = new Set(Array.from({ length: 200 }, newTraceId));
    const spans = new Set(Array.from({ length: 200 }, newSpanId));
    expect(traces.size).toBe(200);
    expect(spans.size).toBe(200);
    for (const id of traces) expect(isTraceId(id)).toBe(true);
    for (const id of spans) expect(isSpanId(id)).toBe(true);
    expect(isTraceId("0".repeat(32))).toBe(false);
    expect(isTraceId("A".repeat(32))).toBe(false);
  });

  test("derived span ids are the same in every process for the same trace and name, and differ between names and traces", () => {
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(incidentSpanId(trace)).toBe(derivedSpanId(trace, "incident"));
    expect(attemptSpanId(trace, 1)).toBe(attemptSpanId(trace, 1));
    expect(new Set([incidentSpanId(trace), attemptSpanId(trace, 1), attemptSpanId(trace, 2), attemptSpanId(newTraceId(), 1)]).size).toBe(4);
    expect(isSpanId(attemptSpanId(trace, 7))).toBe(true);
  });

  test("a traceparent is formatted as version 00, sampled, and read back; malformed ones are refused", () => {
    const value = formatTraceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    expect(value).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect(parseTraceparent(` ${value.toUpperCase()} `)).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true });
    for (const bad of [undefined, "", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "00-xyz-00f067aa0ba902b7-01"]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});

describe("span recorder", () => {
  test("spans carry the ids, parent, times, attributes and status they were given", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startRecorder(exporter, { serviceName: "opskit-test", version: "9.9.9", processor: "simple", propagate: false });
    const traceId = newTraceId();
    const rootId = newSpanId();
    const root = tracing.recorder.start({ name: "run deploy", traceId, spanId: rootId, startTime: 1_700_000_000_000, attributes: { "opskit.run.id": "r1", skipped: undefined } });
    const childId = newSpanId();
    const child = tracing.recorder.start({ name: "step restart", traceId, spanId: childId, parentSpanId: rootId, kind: "client", startTime: 1_700_000_000_100 });
    child.addEvent("retry", { attempt: 2 }, 1_700_000_000_150);
    child.fail("exit status 3");
    child.end(1_700_000_000_200);
    root.setAttributes({ "opskit.run.status": "failed" });
    root.end(1_700_000_000_300);
    await tracing.flush();
    const [step, run] = exporter.getFinishedSpans();
    await tracing.shutdown();
    expect(run!.spanContext()).toMatchObject({ traceId, spanId: rootId });
    expect(run!.parentSpanContext).toBeUndefined();
    expect(run!.attributes).toEqual({ "opskit.run.id": "r1", "opskit.run.status": "failed" });
    expect(run!.resource.attributes["service.name"]).toBe("opskit-test");
    expect(run!.resource.attributes["service.version"]).toBe("9.9.9");
    expect(step!.spanContext()).toMatchObject({ traceId, spanId: childId });
    expect(step!.parentSpanContext?.spanId).toBe(rootId);
    expect(step!.kind).toBe(2 /* CLIENT */);
    expect(step!.status).toEqual({ code: 2, message: "exit status 3" });
    expect(step!.startTime).toEqual([1_700_000_000, 100_000_000]);
    expect(step!.endTime).toEqual([1_700_000_000, 200_000_000]);
    expect(step!.events.map((e) => e.name)).toEqual(["retry"]);
  });

  test("a span under a parent from another process joins that parent's trace", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startRecorder(exporter, { serviceName: "opskit", processor: "simple", propagate: false });
    const traceId = newTraceId();
    const attempt = attemptSpanId(traceId, 2);
    tracing.recorder.start({ name: "run restart", traceId, spanId: newSpanId(), parentSpanId: attempt }).end();
    await tracing.flush();
    const [span] = exporter.getFinishedSpans();
    await tracing.shutdown();
    expect(span!.spanContext().traceId).toBe(traceId);
    expect(span!.parentSpanContext).toMatchObject({ traceId, spanId: attempt });
  });

  test("steps pass the trace on only while a recorder that propagates runs", async () => {
    expect(tracePropagation()).toBe(false);
    const tracing = startRecorder(new InMemorySpanExporter(), { serviceName: "opskit", processor: "simple" });
    expect(tracePropagation()).toBe(true);
    await tracing.shutdown();
    expect(tracePropagation()).toBe(false);
  });
});
