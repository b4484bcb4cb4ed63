// What leaves the process, made safe to leave: the process-wide secret
// redactor that command output, events, the journal, errors and CLI lines
// pass through; and how it is traced: W3C trace ids, the OTLP export's
// settings, and the span recorder the trace sinks write to (OpenTelemetry
// itself loads only when tracing is configured).
export { MASK, MIN_SECRET_LENGTH, OutputRedactor, Redactor, redact, registerSecret, secrets } from "./redact.ts";
export { fanOut, type Sink } from "./sink.ts";
export type { OtlpConfig, OtlpExport, OtlpSignal } from "./otlp-settings.ts";
export {
  attemptSpanId, derivedSpanId, escalationSpanId, formatTraceparent, incidentSpanId, isSpanId, isTraceId, newSpanId, newTraceId, parseTraceparent,
  setTracePropagation, tracePropagation, type TraceContext,
} from "./trace-ids.ts";
export { startTracing, type OpenSpan, type SpanAttributes, type SpanRecorder, type SpanStart, type Tracing, type TracingOptions } from "./trace.ts";
// The server's own log, text or pino JSON (pino loads only for a json log).
export { createServerLog, isLogLevel, LOG_LEVELS, type LogFields, type LogFormat, type LogLevel, type ServerLog } from "./log.ts";
// The server's Prometheus registry pushed over OTLP/HTTP (the metrics SDK loads only then).
export { startOtlpMetrics, type OtlpMetrics, type OtlpMetricsOptions, type PromMetricJson, type PromSource } from "./otlp-metrics.ts";
