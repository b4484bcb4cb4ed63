import type { OtlpExport } from "./otlp-settings.ts";

/**
 * The server's Prometheus metrics pushed over OTLP/HTTP as well, for a
 * collector that does not scrape: the same registry /metrics serves, read
 * at each collection, so both say the same. OpenTelemetry's metrics SDK
 * loads only when an export is configured.
 */

/** One metric as prom-client's Registry#getMetricsAsJSON gives it. */
export interface PromMetricJson {
  name: string;
  help: string;
  /** "counter", "gauge", "histogram" or "summary" at run time (prom-client's typings call it an enum). */
  type: unknown;
  values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
}

/** What the bridge reads: a prom-client Registry, or anything answering the same. */
export interface PromSource {
  getMetricsAsJSON(): Promise<PromMetricJson[]>;
}

export interface OtlpMetricsOptions {
  /** How often metrics leave (observability.otlp.metricsInterval). */
  intervalMs: number;
  /** service.version on the resource. */
  version?: string;
  /** service.instance.id: tells the replicas' series apart, which would otherwise add up as one. */
  instanceId?: string;
  /** Told once, the first time an export fails (default: one line on stderr). */
  warn?: (line: string) => void;
}

export interface OtlpMetrics {
  /** Collects and exports now; gives up after timeoutMs. */
  flush(timeoutMs?: number): Promise<void>;
  /** A last export, then stops; gives up after timeoutMs (an unreachable collector never holds a shutdown up for longer). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Starts pushing `source` to settings.url every intervalMs; loads OpenTelemetry's metrics SDK now. */
export async function startOtlpMetrics(source: PromSource, settings: OtlpExport, options: OtlpMetricsOptions): Promise<OtlpMetrics> {
  return (await import("./otlp-metrics-otel.ts")).startOtlpMetricsExport(source, settings, options);
}
