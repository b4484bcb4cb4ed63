import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp.ts";

let otlp: OtlpReceiver;
beforeAll(async () => {
  otlp = await startOtlpReceiver();
});
afterAll(() => otlp.stop());

async function exportSpans(compression: "none" | "gzip"): Promise<{ traceId: string; parent: string; child: string }> {
  const exporter = new OTLPTraceExporter({ url: `${otlp.url}/v1/traces`, compression: compression as never });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "otlp-harness-test" }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer("harness", "1.2.3");
  // The parent is passed explicitly: this test registers no context manager.
  const parent = tracer.startSpan(`parent-${compression}`, { kind: SpanKind.SERVER });
  const ids = await (async () => {
    const child = tracer.startSpan(
      `child-${compression}`,
      { attributes: { "opskit.count": 3, "opskit.ok": true, "opskit.tags": ["a", "b"] } },
      trace.setSpan(context.active(), parent),
    );
    child.addEvent("step.finished", { step: "restart" });
    child.setStatus({ code: SpanStatusCode.ERROR, message: "exit 2" });
    child.end();
    parent.end();
    return { traceId: parent.spanContext().traceId, parent: parent.spanContext().spanId, child: child.spanContext().spanId };
  })();
  await provider.forceFlush();
  await provider.shutdown();
  return ids;
}

describe("OTLP receiver harness", () => {
  for (const compression of ["none", "gzip"] as const) {
    test(`decodes spans from the real OTLP/HTTP JSON trace exporter (compression ${compression})`, async () => {
      const ids = await exportSpans(compression);
      const child = await otlp.waitFor(() => otlp.spans().find((s) => s.name === `child-${compression}`));
      const parent = await otlp.waitFor(() => otlp.spans().find((s) => s.name === `parent-${compression}`));
      expect(parent.traceId).toBe(ids.traceId);
      expect(parent.spanId).toBe(ids.parent);
      expect(parent.parentSpanId).toBeUndefined();
      expect(parent.kind).toBe(2);
      expect(child.traceId).toBe(ids.traceId);
      expect(child.spanId).toBe(ids.child);
      expect(child.parentSpanId).toBe(ids.parent);
      expect(child.attributes).toEqual({ "opskit.count": 3, "opskit.ok": true, "opskit.tags": ["a", "b"] });
      expect(child.status).toEqual({ code: 2, message: "exit 2" });
      expect(child.events.map((e) => [e.name, e.attributes])).toEqual([["step.finished", { step: "restart" }]]);
      expect(child.resource["service.name"]).toBe("otlp-harness-test");
      expect(child.scope).toEqual({ name: "harness", version: "1.2.3" });
      expect(BigInt(child.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(child.startTimeUnixNano));
      const request = otlp.received().findLast((r) => r.signal === "traces")!;
      expect(request.contentType).toBe("json");
      expect(request.gzip).toBe(compression === "gzip");
    });
  }

  test("normalises base64 ids to hex and decodes protobuf bodies", async () => {
    const traceId = "5b8efff798038103d269b633813fc60c";
    const spanId = "eee19b7ec3c1b174";
    const b64 = (hex: string): string => Buffer.from(hex, "hex").toString("base64");
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "b64" } }] },
        scopeSpans: [{ scope: { name: "s" }, spans: [{
          traceId: b64(traceId), spanId: b64(spanId), parentSpanId: "", name: "base64-ids", kind: 1,
          startTimeUnixNano: "1", endTimeUnixNano: "2", attributes: [{ key: "n", value: { intValue: "7" } }],
          status: {},
        }] }],
      }],
    };
    const answer = await fetch(`${otlp.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    expect(answer.status).toBe(200);
    const span = otlp.spans().find((s) => s.name === "base64-ids")!;
    expect(span).toMatchObject({ traceId, spanId, parentSpanId: undefined, attributes: { n: 7 }, status: { code: 0 } });

    // Protobuf: the serializer the OTLP/proto exporters use, decoded by the harness's own reader.
    const { ProtobufTraceSerializer, ProtobufMetricsSerializer } = await import("@opentelemetry/otlp-transformer");
    const exporter = new (await import("@opentelemetry/sdk-trace")).InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const span2 = provider.getTracer("proto").startSpan("protobuf-span", { attributes: { big: 2 ** 40, pi: 3.5 } });
    span2.setStatus({ code: SpanStatusCode.OK });
    span2.end();
    await provider.forceFlush();
    const proto = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
    const gz = Bun.gzipSync(new Uint8Array(proto));
    const answer2 = await fetch(`${otlp.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf", "content-encoding": "gzip" },
      body: gz,
      signal: AbortSignal.timeout(5000),
    });
    expect(answer2.status).toBe(200);
    const decoded = otlp.spans().find((s) => s.name === "protobuf-span")!;
    expect(decoded.traceId).toBe(span2.spanContext().traceId);
    expect(decoded.spanId).toBe(span2.spanContext().spanId);
    expect(decoded.attributes).toEqual({ big: 2 ** 40, pi: 3.5 });
    expect(decoded.status.code).toBe(1);
    await provider.shutdown();

    // Metrics in protobuf: a counter and a histogram through the SDK's own reader.
    const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } = await import("@opentelemetry/sdk-metrics");
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
    const meters = new MeterProvider({ readers: [reader] });
    const meter = meters.getMeter("proto-metrics");
    meter.createCounter("harness_things_total", { unit: "1" }).add(5, { kind: "x" });
    meter.createHistogram("harness_seconds", { unit: "s", advice: { explicitBucketBoundaries: [0.1, 1] } }).record(0.5);
    await reader.forceFlush();
    const metricsBody = ProtobufMetricsSerializer.serializeRequest(metricExporter.getMetrics()[0]!)!;
    const answer3 = await fetch(`${otlp.url}/v1/metrics`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: metricsBody,
      signal: AbortSignal.timeout(5000),
    });
    expect(answer3.status).toBe(200);
    expect(otlp.metric("harness_things_total")).toMatchObject({
      type: "sum", isMonotonic: true, unit: "1", aggregationTemporality: 2,
      dataPoints: [{ attributes: { kind: "x" }, value: 5 }],
    });
    expect(otlp.metric("harness_seconds")).toMatchObject({
      type: "histogram",
      dataPoints: [{ count: 1, sum: 0.5, bucketCounts: [0, 1, 0], explicitBounds: [0.1, 1] }],
    });
    await meters.shutdown();
    expect(otlp.errors()).toEqual([]);
  });

  test("refuses what is not OTLP and answers a chosen status", async () => {
    const bad = await fetch(`${otlp.url}/v1/metrics`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x", signal: AbortSignal.timeout(5000) });
    expect(bad.status).toBe(415);
    const broken = await fetch(`${otlp.url}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{", signal: AbortSignal.timeout(5000) });
    expect(broken.status).toBe(400);
    expect(otlp.errors().length).toBe(1);
    otlp.respondWith(503);
    const refused = await fetch(`${otlp.url}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}", signal: AbortSignal.timeout(5000) });
    expect(refused.status).toBe(503);
    otlp.respondWith(200);
    const before = otlp.requests;
    const logBody = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityText: "INFO", body: { stringValue: "hello" }, traceId: "5b8efff798038103d269b633813fc60c" }] }] }] };
    await fetch(`${otlp.url}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(logBody), signal: AbortSignal.timeout(5000) });
    expect(otlp.requests).toBe(before + 1);
    expect(otlp.logs().at(-1)).toMatchObject({ severityText: "INFO", body: "hello", traceId: "5b8efff798038103d269b633813fc60c" });
  });
});
