import { ValueType, type Attributes, type HrTime } from "@opentelemetry/api";
import { ExportResultCode, hrTime, millisToHrTime, type ExportResult } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type DataPoint,
  type MetricData,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { OtlpMetrics, OtlpMetricsOptions, PromMetricJson, PromSource } from "./otlp-metrics.ts";
import type { OtlpExport } from "./otlp-settings.ts";
import { redact } from "./redact.ts";
import { settlesWithin, shownUrl } from "./otlp-export.ts";

// The bridge is a MetricProducer, not observable instruments: a producer
// hands the reader finished data points, so prom-client's histograms go out
// as OTLP histograms with their buckets (an observable instrument can only
// be a counter or a gauge), and one read of the registry serves every
// metric of a collection. Names stay as /metrics shows them
// (opskit_http_requests_total), so a query works against either.

const EXPORT_TIMEOUT_MS = 10_000;
const SHUTDOWN_TIMEOUT_MS = 3_000;

/** OTLP's unit from the Prometheus name's unit suffix (the OpenMetrics convention). */
function unitOf(name: string): string {
  if (/_seconds(_total|_count|_sum)?$/.test(name)) return "s";
  if (/_bytes(_total|_count|_sum)?$/.test(name)) return "By";
  return "";
}

type Labels = Record<string, string | number | undefined>;

function attributesOf(labels: Labels, without?: string): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(labels)) if (key !== without && value !== undefined) out[key] = value;
  return out;
}

/** A stable key for a label set (bucket series of one histogram share it, le aside). */
function seriesKey(labels: Labels, without: string): string {
  return JSON.stringify(Object.entries(labels).filter(([key, value]) => key !== without && value !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface HistogramSeries {
  attributes: Attributes;
  /** le → cumulative count, as Prometheus buckets are. */
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

/** Prometheus buckets are cumulative (le); OTLP's counts are per bucket, with one past the last bound. */
function histogramPoints(metric: PromMetricJson, startTime: HrTime, endTime: HrTime): DataPoint<import("@opentelemetry/sdk-metrics").Histogram>[] {
  const series = new Map<string, HistogramSeries>();
  const entry = (labels: Labels) => {
    const key = seriesKey(labels, "le");
    let found = series.get(key);
    if (!found) series.set(key, (found = { attributes: attributesOf(labels, "le"), buckets: new Map(), sum: 0, count: 0 }));
    return found;
  };
  for (const value of metric.values) {
    const suffix = value.metricName?.slice(metric.name.length);
    const s = entry(value.labels);
    if (suffix === "_bucket") {
      const le = value.labels.le;
      const bound = le === "+Inf" ? Infinity : Number(le);
      if (!Number.isNaN(bound)) s.buckets.set(bound, value.value);
    } else if (suffix === "_sum") s.sum = value.value;
    else if (suffix === "_count") s.count = value.value;
  }
  return [...series.values()].map((s) => {
    const boundaries = [...s.buckets.keys()].filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
    let below = 0;
    const counts = boundaries.map((bound) => {
      const cumulative = s.buckets.get(bound)!;
      const n = Math.max(0, cumulative - below);
      below = cumulative;
      return n;
    });
    counts.push(Math.max(0, (s.buckets.get(Infinity) ?? s.count) - below));
    return { startTime, endTime, attributes: s.attributes, value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count } };
  });
}

/** The registry's metrics as OpenTelemetry metric data: counters as cumulative monotonic sums, gauges as gauges, histograms as histograms. */
export function promToMetricData(metrics: readonly PromMetricJson[], startTime: HrTime, endTime: HrTime = hrTime()): MetricData[] {
  const out: MetricData[] = [];
  const descriptor = (name: string, help: string) => ({ name, description: help, unit: unitOf(name), valueType: ValueType.DOUBLE });
  const points = (values: PromMetricJson["values"]) => values.map((v) => ({ startTime, endTime, attributes: attributesOf(v.labels), value: v.value }));
  for (const metric of metrics) {
    switch (metric.type) {
      case "counter":
        out.push({ descriptor: descriptor(metric.name, metric.help), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: points(metric.values) });
        break;
      case "gauge":
        out.push({ descriptor: descriptor(metric.name, metric.help), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: points(metric.values) });
        break;
      case "histogram":
        out.push({ descriptor: descriptor(metric.name, metric.help), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints: histogramPoints(metric, startTime, endTime) });
        break;
      case "summary": {
        // The SDK's metric data has no summary type: its count and sum go as sums, the quantiles stay on /metrics.
        for (const suffix of ["_count", "_sum"]) {
          const values = metric.values.filter((v) => v.metricName === `${metric.name}${suffix}`);
          out.push({ descriptor: descriptor(`${metric.name}${suffix}`, metric.help), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: points(values) });
        }
        break;
      }
    }
  }
  return out;
}

/** Reads the registry at each collection. */
class PromProducer implements MetricProducer {
  /** Prometheus counters count from the process's start. */
  readonly #startTime = millisToHrTime(performance.timeOrigin);
  constructor(
    private readonly source: PromSource,
    private readonly version: string | undefined,
  ) {}
  async collect(): Promise<CollectionResult> {
    const metrics = await this.source.getMetricsAsJSON();
    return {
      // The reader puts its own resource on what a producer gives.
      resourceMetrics: { resource: defaultResource(), scopeMetrics: [{ scope: { name: "opskit", ...(this.version ? { version: this.version } : {}) }, metrics: promToMetricData(metrics, this.#startTime) }] },
      errors: [],
    };
  }
}

/** An exporter that says once, in one line, that exports fail; the server goes on. */
class WarningExporter implements PushMetricExporter {
  #warned = false;
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly target: string,
    private readonly warn: (line: string) => void,
  ) {}
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && !this.#warned) {
        this.#warned = true;
        const why = result.error?.message ?? "export failed";
        this.warn(redact(`opskit serve: metrics could not be sent to ${this.target}: ${why} (the server goes on and tries again every interval; said once)`));
      }
      done(result);
    });
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}


export function startOtlpMetricsExport(source: PromSource, settings: OtlpExport, options: OtlpMetricsOptions): OtlpMetrics {
  // An export may not outlast the interval (the reader refuses that), nor EXPORT_TIMEOUT_MS.
  const timeoutMs = Math.min(EXPORT_TIMEOUT_MS, options.intervalMs);
  const exporter = new OTLPMetricExporter({ url: settings.url, headers: settings.headers, timeoutMillis: timeoutMs });
  const warn = options.warn ?? ((line: string) => console.error(line));
  const reader = new PeriodicExportingMetricReader({
    exporter: new WarningExporter(exporter, shownUrl(settings.url), warn),
    exportIntervalMillis: options.intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [new PromProducer(source, options.version)],
  });
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(
      resourceFromAttributes({
        "service.name": settings.serviceName,
        ...(options.version ? { "service.version": options.version } : {}),
        ...(options.instanceId ? { "service.instance.id": options.instanceId } : {}),
      }),
    );
  const provider = new MeterProvider({ resource, readers: [reader] });
  return {
    flush: (ms = SHUTDOWN_TIMEOUT_MS) => settlesWithin(provider.forceFlush(), ms).then(() => undefined),
    shutdown: (ms = SHUTDOWN_TIMEOUT_MS) => settlesWithin(provider.shutdown(), ms).then(() => undefined),
  };
}
