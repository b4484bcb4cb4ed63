import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Span } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BatchSpanProcessor, RandomIdGenerator, SimpleSpanProcessor, TracerProvider, type IdGenerator, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace";
import type { OtlpExport } from "./otlp-settings.ts";
import { redact } from "./redact.ts";
import { setTracePropagation } from "./trace-ids.ts";
import type { OpenSpan, SpanAttributes, SpanRecorder, SpanStart, Tracing, TracingOptions } from "./trace.ts";
import { settlesWithin, shownUrl } from "./otlp-export.ts";

// The OpenTelemetry side of tracing, loaded only when tracing is configured
// (the base SDK, not sdk-node: it does not run under Bun). Spans go through
// a batch processor: ended spans wait in a bounded queue (2,048; more are
// dropped) and leave every second, or at a flush, so an export never sits
// in a run's way; each export gives up after EXPORT_TIMEOUT_MS.

const EXPORT_TIMEOUT_MS = 5_000;
const FLUSH_TIMEOUT_MS = 3_000;
/** A step's description can be a long command; collectors cut long values anyway. */
const ATTRIBUTE_LENGTH = 4096;

const kinds = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, client: SpanKind.CLIENT, consumer: SpanKind.CONSUMER } as const;

function attributes(values: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(values ?? {})) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * The SDK draws ids from its IdGenerator; the recorder hands it the ones the
 * span must have for the one synchronous startSpan call (a span whose ids
 * were not set, which does not happen, gets random ones).
 */
class ChosenIds implements IdGenerator {
  next: { traceId: string; spanId: string } | undefined;
  readonly #random = new RandomIdGenerator();
  generateTraceId(): string {
    return this.next?.traceId ?? this.#random.generateTraceId();
  }
  generateSpanId(): string {
    return this.next?.spanId ?? this.#random.generateSpanId();
  }
}

function openSpan(span: Span): OpenSpan {
  return {
    setAttributes: (values) => span.setAttributes(attributes(values)),
    addEvent: (name, values, time) => span.addEvent(name, attributes(values), time),
    fail: (message) => span.setStatus({ code: SpanStatusCode.ERROR, message }),
    end: (time) => span.end(time),
  };
}

/** An exporter that reports failed exports (the spans of one are dropped; the run goes on). */
class WarningExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly failed: (why: string) => void,
  ) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.failed(result.error?.message ?? "export failed");
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}


export interface RecorderOptions {
  serviceName: string;
  version?: string;
  /** "simple" exports each span as it ends (tests with an in-memory exporter); default "batch". */
  processor?: "batch" | "simple";
  /** Whether steps pass TRACEPARENT on while this recorder runs (default true). */
  propagate?: boolean;
  /** A flush or shutdown that ran out of time (the collector does not answer). */
  unfinished?: () => void;
}

/** A recorder over any SpanExporter: the OTLP one, or sdk-trace's InMemorySpanExporter in tests. */
export function startRecorder(exporter: SpanExporter, options: RecorderOptions): Tracing {
  const ids = new ChosenIds();
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ "service.name": options.serviceName, ...(options.version ? { "service.version": options.version } : {}) }));
  const processor =
    options.processor === "simple"
      ? new SimpleSpanProcessor({ exporter })
      : new BatchSpanProcessor({ exporter, maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: EXPORT_TIMEOUT_MS });
  const provider = new TracerProvider({
    resource,
    idGenerator: ids,
    sampler: new AlwaysOnSampler(),
    spanLimits: { attributeValueLengthLimit: ATTRIBUTE_LENGTH },
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer("opskit", options.version);
  const recorder: SpanRecorder = {
    start(span: SpanStart): OpenSpan {
      const parent = span.parentSpanId
        ? trace.setSpanContext(ROOT_CONTEXT, { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true })
        : ROOT_CONTEXT;
      ids.next = { traceId: span.traceId, spanId: span.spanId };
      try {
        return openSpan(
          tracer.startSpan(span.name, { kind: kinds[span.kind ?? "internal"], attributes: attributes(span.attributes), ...(span.startTime !== undefined ? { startTime: span.startTime } : {}) }, parent),
        );
      } finally {
        ids.next = undefined;
      }
    },
  };
  const propagate = options.propagate ?? true;
  if (propagate) setTracePropagation(true);
  return {
    recorder,
    async flush(timeoutMs = FLUSH_TIMEOUT_MS) {
      if (!(await settlesWithin(provider.forceFlush(), timeoutMs))) options.unfinished?.();
    },
    async shutdown(timeoutMs = FLUSH_TIMEOUT_MS) {
      if (propagate) setTracePropagation(false);
      if (!(await settlesWithin(provider.shutdown(), timeoutMs))) options.unfinished?.();
    },
  };
}

/** Spans exported over OTLP/HTTP (JSON) to settings.url. */
export function startOtlpTracing(settings: OtlpExport, options: TracingOptions = {}): Tracing {
  const exporter = new OTLPTraceExporter({ url: settings.url, headers: settings.headers, timeoutMillis: EXPORT_TIMEOUT_MS });
  const warn = options.warn ?? ((line: string) => console.error(line));
  // One line, the first time, whatever the trouble: a collector that is down fails every export after.
  let warned = false;
  const warnOnce = (why: string) => {
    if (warned) return;
    warned = true;
    warn(redact(`opskit: traces could not be sent to ${shownUrl(settings.url)}: ${why} (runs go on; their spans are dropped while the collector does not answer; said once)`));
  };
  return startRecorder(new WarningExporter(exporter, warnOnce), {
    serviceName: settings.serviceName,
    ...(options.version ? { version: options.version } : {}),
    unfinished: () => warnOnce("no answer in time"),
  });
}
