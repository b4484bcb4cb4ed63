/*
 * One line of `journalctl --output=json` into an agent event. journalctl
 * prints a field as a string when it is valid UTF-8 without control
 * characters, as an array of bytes otherwise, and as an array of those when
 * the entry holds the field several times (journalctl(1), "json").
 */
import type { AgentEvent } from "../types.ts";

/** The fields the source asks journalctl for (it adds __CURSOR and the timestamps itself). */
export const JOURNAL_FIELDS = ["MESSAGE", "_PID", "_COMM", "_SYSTEMD_UNIT", "PRIORITY", "SYSLOG_IDENTIFIER"] as const;

type JsonValue = string | number[] | null | Array<string | number[] | null>;

const isBytes = (value: unknown): value is number[] => Array.isArray(value) && value.every((item) => typeof item === "number");

/** A field's text: bytes decoded as UTF-8 (invalid sequences become U+FFFD), several values joined by newlines. */
export function fieldText(value: JsonValue | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (isBytes(value)) return Buffer.from(value).toString("utf8");
  if (Array.isArray(value)) {
    const parts = value.map((item) => fieldText(item as JsonValue)).filter((part): part is string => part !== undefined);
    return parts.join("\n");
  }
  return String(value);
}

function boundBytes(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (text.length <= maxBytes / 3 || Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  const bytes = Buffer.from(text);
  // Back off to the start of the character the cut would split (UTF-8 continuation bytes are 10xxxxxx).
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { text: bytes.subarray(0, end).toString("utf8"), truncated: true };
}

function integer(value: JsonValue | undefined): number | undefined {
  const text = fieldText(value);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

/** The event for one journal entry; `cursor` is where a restart resumes after it. */
export function journalEvent(entry: Record<string, JsonValue>, source: string, maxBytes: number): { event: AgentEvent; cursor: string | undefined } {
  const fields: AgentEvent["fields"] = {};
  const unit = fieldText(entry._SYSTEMD_UNIT);
  if (unit !== undefined) fields.unit = unit;
  const priority = integer(entry.PRIORITY);
  if (priority !== undefined) fields.priority = priority;
  const identifier = fieldText(entry.SYSLOG_IDENTIFIER);
  if (identifier !== undefined) fields.identifier = identifier;
  const message = boundBytes(fieldText(entry.MESSAGE) ?? "", maxBytes);
  if (message.truncated) fields.truncated = true;
  const realtimeUs = integer(entry.__REALTIME_TIMESTAMP);
  const event: AgentEvent = {
    source,
    kind: "log",
    time: realtimeUs === undefined ? Date.now() : Math.floor(realtimeUs / 1000),
    message: message.text,
    fields,
  };
  const pid = integer(entry._PID);
  if (pid !== undefined) event.pid = pid;
  const comm = fieldText(entry._COMM);
  if (comm !== undefined) event.comm = comm;
  return { event, cursor: typeof entry.__CURSOR === "string" ? entry.__CURSOR : undefined };
}
