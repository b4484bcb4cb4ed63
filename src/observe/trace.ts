import type { OtlpExport } from "./otlp-settings.ts";

/**
 * What the trace sinks (engine/trace-sink.ts for runs, heal/trace-sink.ts
 * for incidents) write spans to. The sinks name every span's ids themselves
 * (the engine chose a step's span id before its command started, an
 * attempt's is derived from its incident's trace), so a span is started with
 * its ids and its times as the events tell them. This face loads nothing of
 * OpenTelemetry: trace-otel.ts is imported only when tracing is configured.
 */
export type SpanAttributes = Record<string, string | number | boolean | string[] | undefined>;

export interface SpanStart {
  name: string;
  traceId: string;
  spanId: string;
  /** The span this one runs under, possibly exported by another process; none for a trace's root. */
  parentSpanId?: string;
  /** Epoch ms; now when absent. */
  startTime?: number;
  kind?: "internal" | "server" | "client" | "consumer";
  attributes?: SpanAttributes;
}

export interface OpenSpan {
  setAttributes(attributes: SpanAttributes): void;
  addEvent(name: string, attributes?: SpanAttributes, time?: number): void;
  /** Status ERROR, with what went wrong. */
  fail(message: string): void;
  /** Ends the span (epoch ms; now when absent); it is exported from then on. */
  end(time?: number): void;
}

export interface SpanRecorder {
  start(span: SpanStart): OpenSpan;
}

export interface Tracing {
  recorder: SpanRecorder;
  /** Exports what has ended; gives up after timeoutMs (an unreachable collector never holds a command up for longer). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes, then stops exporting. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TracingOptions {
  /** service.version on the resource. */
  version?: string;
  /** Told once, the first time an export fails (default: one line on stderr). */
  warn?: (line: string) => void;
}

/** Starts exporting spans over OTLP/HTTP (batched, bounded queue, export timeout); loads OpenTelemetry now. */
export async function startTracing(settings: OtlpExport, options: TracingOptions = {}): Promise<Tracing> {
  return (await import("./trace-otel.ts")).startOtlpTracing(settings, options);
}
