// What an OTLP export is (the exporters in trace-otel.ts and
// otlp-metrics-otel.ts take it); config/otlp.ts resolves it from the
// OTEL_* variables over the config's observability.otlp.
export type OtlpSignal = "traces" | "metrics";

/** `observability.otlp` as the config holds it, its header values already resolved from their secret references. */
export interface OtlpConfig {
  endpoint?: string;
  headers?: Record<string, string>;
  serviceName?: string;
}

export interface OtlpExport {
  /** The signal's URL, e.g. http://127.0.0.1:4318/v1/traces. */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  /** What set the URL, for messages: a variable's name or observability.otlp.endpoint. */
  source: string;
}
