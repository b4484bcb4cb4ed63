import { describe, expect, test } from "bun:test";
import { DataPointType, type MetricData } from "@opentelemetry/sdk-metrics";
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client";
import { promToMetricData } from "./otlp-metrics-otel.ts";

const start: [number, number] = [1_700_000_000, 0];
const end: [number, number] = [1_700_000_060, 0];

async function converted(registry: Registry): Promise<Map<string, MetricData>> {
  const data = promToMetricData(await registry.getMetricsAsJSON(), start, end);
  return new Map(data.map((m) => [m.descriptor.name, m]));
}

describe("prom-client registry as OpenTelemetry metric data", () => {
  test("counters become cumulative monotonic sums and gauges gauges, one point per label set", async () => {
    const registry = new Registry();
    const requests = new Counter({ name: "x_requests_total", help: "Requests.", labelNames: ["endpoint", "code"], registers: [registry] });
    requests.inc({ endpoint: "alerts", code: "200" }, 3);
    requests.inc({ endpoint: "healthz", code: "503" });
    new Gauge({ name: "x_open", help: "Open now.", registers: [registry] }).set(7);
    const metrics = await converted(registry);
    const counter = metrics.get("x_requests_total")!;
    expect(counter).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true, aggregationTemporality: 1, descriptor: { description: "Requests.", unit: "" } });
    expect(counter.dataPoints.map((p) => [p.attributes, p.value, p.startTime, p.endTime])).toEqual([
      [{ endpoint: "alerts", code: "200" }, 3, start, end],
      [{ endpoint: "healthz", code: "503" }, 1, start, end],
    ]);
    const gauge = metrics.get("x_open")!;
    expect(gauge.dataPointType).toBe(DataPointType.GAUGE);
    expect(gauge.dataPoints.map((p) => p.value)).toEqual([7]);
  });

  test("a histogram keeps its buckets: Prometheus's cumulative le counts become OTLP's per-bucket counts, +Inf last", async () => {
    const registry = new Registry();
    const latency = new Histogram({ name: "x_duration_seconds", help: "Time.", labelNames: ["endpoint"], buckets: [0.01, 0.1, 1], registers: [registry] });
    for (const seconds of [0.005, 0.05, 0.07, 0.5, 3, 4]) latency.observe({ endpoint: "a" }, seconds);
    latency.observe({ endpoint: "b" }, 0.001);
    const metric = (await converted(registry)).get("x_duration_seconds")!;
    expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(metric.descriptor.unit).toBe("s");
    const points = metric.dataPoints.map((p) => [p.attributes, p.value]);
    expect(points).toEqual([
      [{ endpoint: "a" }, { buckets: { boundaries: [0.01, 0.1, 1], counts: [1, 2, 1, 2] }, sum: 0.005 + 0.05 + 0.07 + 0.5 + 3 + 4, count: 6 }],
      [{ endpoint: "b" }, { buckets: { boundaries: [0.01, 0.1, 1], counts: [1, 0, 0, 0] }, sum: 0.001, count: 1 }],
    ]);
  });

  test("a summary's count and sum go as sums (the metric data has no summary type)", async () => {
    const registry = new Registry();
    const summary = new Summary({ name: "x_size_bytes", help: "Size.", registers: [registry] });
    summary.observe(10);
    summary.observe(30);
    const metrics = await converted(registry);
    expect(metrics.get("x_size_bytes_count")).toMatchObject({ dataPointType: DataPointType.SUM, descriptor: { unit: "By" } });
    expect(metrics.get("x_size_bytes_count")!.dataPoints.map((p) => p.value)).toEqual([2]);
    expect(metrics.get("x_size_bytes_sum")!.dataPoints.map((p) => p.value)).toEqual([40]);
  });
});
