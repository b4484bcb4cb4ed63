// `opskit serve`'s log (--log-format, --log-level): which lines go where in
// each format. Text keeps the lines people have always read (events on
// stdout, the server's notices on stderr); json puts all of them, events
// included, on stderr as one JSON object a line for a log pipeline.
import type { LoadedConfig } from "../config/index.ts";
import type { HealEvent, HealSink } from "../heal/index.ts";
import { createServerLog, type LogFields, type LogFormat, type LogLevel, type ServerLog } from "../observe/index.ts";

export type NoticeLevel = "info" | "warn" | "error";

/** The log at --log-level, else observability.logLevel, else info. */
export async function openServeLog(options: { logLevel?: LogLevel | undefined; logFormat: LogFormat }, loaded: LoadedConfig): Promise<ServerLog> {
  const level = options.logLevel ?? loaded.config.observability?.logLevel ?? "info";
  return createServerLog({ level, format: options.logFormat });
}

/** `opskit serve: WARNING: …` is a text line's way of saying what json says with "level" and the process. */
function message(log: ServerLog, line: string): string {
  return log.format === "json" ? line.replace(/^opskit serve: (WARNING: )?/, "") : line;
}

/** A notice about the server itself (the token's file, a warning) at its level. */
export function logNotice(log: ServerLog): (line: string, level?: NoticeLevel) => void {
  return (line, level = "info") => log[level](message(log, line));
}

/** An error the HTTP layer caught: the stack in the log (never in the response). */
export function logInternalError(log: ServerLog): (error: unknown) => void {
  return (error) => log.error(log.format === "json" ? "internal error" : "opskit serve: internal error", { err: error });
}

/** pino's own keys stay pino's: an event field by such a name is kept under event_<name>. */
const reserved = new Set(["level", "time", "msg", "pid", "hostname", "err", "trace_id", "span_id", "trace_flags"]);

/** An event's fields for its log line, `at` as ISO 8601 like --json's lines. */
export function eventFields(event: object): LogFields {
  const fields: LogFields = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "at" && typeof value === "number" && Number.isFinite(value)) fields.at = new Date(value).toISOString();
    else fields[reserved.has(key) ? `event_${key}` : key] = value;
  }
  return fields;
}

/**
 * A json log line per heal event: the text line's words as msg (an event
 * without a line, such as notifications.processed, at debug under its type),
 * the event's fields beside it, heal.error at error. An event that carries a
 * traceId gets the log's trace_id.
 */
export function healLogSink(log: ServerLog, describe: (event: HealEvent) => string | undefined): HealSink {
  return (event) => {
    if (event.type === "heal.error") return log.error(event.message, eventFields(event));
    const text = describe(event);
    if (text !== undefined) log.info(text, eventFields(event));
    else if (log.enabled("debug")) log.debug(event.type, eventFields(event));
  };
}

/** The scheduler's events as json log lines: errors at error, the rest at info. */
export function scheduleLogSink(log: ServerLog): (event: import("../schedule/index.ts").ScheduleEvent) => void {
  return (event) => {
    const name = "schedule" in event && event.schedule ? ` ${event.schedule}` : "";
    if (event.type === "schedule.error") log.error(`schedule${name}: ${event.message}`, eventFields(event));
    else log.info(`${event.type}${name}`, eventFields(event));
  };
}

/** Text lines for people (stdout) at info: dropped when the level is above it. */
export function atInfo(log: ServerLog, write: (line: string) => void): (line: string) => void {
  return log.enabled("info") ? write : () => undefined;
}
