import { secrets } from "./redact.ts";

/**
 * The server's own log: what `opskit serve` says about itself (notices,
 * warnings, internal errors) and, unless --json prints events, a line per
 * event. Two formats behind one interface: text, the lines people read on a
 * terminal, and json, one pino JSON object a line for a log pipeline
 * (Loki, Elasticsearch, journald's JSON). Both pass the secret redactor and
 * drop what is below the level.
 *
 * pino and the OpenTelemetry API load only when a json log is opened, so the
 * commands that never log this way (probe, exec) do not pay for them.
 */

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = "text" | "json";
/** A line's own fields; `err` holds an error (pino serializes its type, message and stack; text appends the stack). */
export type LogFields = Record<string, unknown>;

type Emit = (msg: string, fields?: LogFields) => void;

export interface ServerLog {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Whether a line at this level would be written (to skip building one that would not). */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
  trace: Emit;
  debug: Emit;
  info: Emit;
  warn: Emit;
  error: Emit;
  fatal: Emit;
}

/** Where lines go: a function taking each line (with its newline for json), default stderr. */
export type LogDestination = (line: string) => void;

export interface ServerLogOptions {
  level?: LogLevel;
  format?: LogFormat;
  destination?: LogDestination;
}

const rank: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

export async function createServerLog(options: ServerLogOptions = {}): Promise<ServerLog> {
  const level = options.level ?? "info";
  return (options.format ?? "text") === "json" ? jsonLog(level, options.destination) : textLog(level, options.destination);
}

/** Text: the line as given, an error's stack after it; the fields are for json only. */
function textLog(level: LogLevel, destination: LogDestination = (line) => console.error(line)): ServerLog {
  const at = (lineLevel: Exclude<LogLevel, "silent">): Emit => {
    if (rank[lineLevel] < rank[level]) return () => undefined;
    return (msg, fields) => {
      const err = fields?.err;
      const detail = err instanceof Error ? `: ${err.stack ?? err.message}` : err !== undefined ? `: ${String(err)}` : "";
      destination(secrets.redact(msg + detail));
    };
  };
  return {
    format: "text",
    level,
    enabled: (l) => rank[l] >= rank[level],
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
  };
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO = /^0+$/;

/**
 * The line's trace context under the OpenTelemetry log data model's names
 * (trace_id, span_id, trace_flags): the record's own traceId (an incident's
 * or run's event) first, else the span active where the line was written.
 */
export function traceFields(record: LogFields, activeSpan: () => { traceId: string; spanId: string; traceFlags: number } | undefined): LogFields {
  const traceId = record.traceId;
  if (typeof traceId === "string" && TRACE_ID.test(traceId) && !ZERO.test(traceId)) {
    const spanId = record.spanId;
    return typeof spanId === "string" && SPAN_ID.test(spanId) && !ZERO.test(spanId) ? { trace_id: traceId, span_id: spanId } : { trace_id: traceId };
  }
  const active = activeSpan();
  if (!active || !TRACE_ID.test(active.traceId) || ZERO.test(active.traceId) || ZERO.test(active.spanId)) return {};
  return { trace_id: active.traceId, span_id: active.spanId, trace_flags: active.traceFlags.toString(16).padStart(2, "0") };
}

/**
 * Masks the registered secrets in one serialized line. A secret holding a
 * character JSON escapes (a quote, a backslash, a newline) is escaped in the
 * line, not found as written: such a line is parsed and its strings masked
 * as values, then the text once more (for keys).
 */
export function maskLine(line: string): string {
  if (secrets.size === 0) return line;
  let out = line;
  if (line.includes("\\")) {
    try {
      const value = JSON.parse(line) as unknown;
      const masked = secrets.redactValue(value);
      if (masked !== value) out = `${JSON.stringify(masked)}\n`;
    } catch {
      // Not one JSON value: masked as text below.
    }
  }
  return secrets.redact(out);
}

async function jsonLog(level: LogLevel, destination?: LogDestination): Promise<ServerLog> {
  const [{ pino }, api] = await Promise.all([import("pino"), import("@opentelemetry/api")]);
  const activeSpan = () => {
    const span = api.trace.getActiveSpan();
    return span ? span.spanContext() : undefined;
  };
  const logger = pino(
    {
      level,
      // Readable without a decoder, and what log pipelines parse: "level":"warn", "time":"2025-…Z".
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: (record) => traceFields(record as LogFields, activeSpan),
      hooks: { streamWrite: maskLine },
    },
    destination ? { write: destination } : pino.destination({ dest: 2, sync: true }),
  );
  const at = (lineLevel: Exclude<LogLevel, "silent">): Emit => {
    return (msg, fields) => (fields ? logger[lineLevel](fields, msg) : logger[lineLevel](msg));
  };
  return {
    format: "json",
    level,
    enabled: (l) => logger.isLevelEnabled(l),
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
  };
}
