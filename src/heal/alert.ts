import { z } from "zod";
import { ExitCode, OpsError } from "../errors.ts";
import type { AlertSourceKind } from "../journal/index.ts";

/** One alert, whatever sent it: Alertmanager, a generic webhook, or a check. */
export interface Alert {
  source: AlertSourceKind;
  fingerprint: string;
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Epoch ms. */
  startsAt: number;
  /** Epoch ms; absent when unset (Alertmanager sends Go's zero time for that). */
  endsAt?: number;
  generatorURL?: string;
}

/** The most alerts one notification may carry, generic or Alertmanager's. */
export const MAX_GENERIC_ALERTS = 1000;

type Path = readonly PropertyKey[];

const AM_HINT = "send Alertmanager's webhook (webhook_configs, version 4) unchanged; other senders post to /api/v1/alerts";
const GENERIC_HINT = 'post {"labels": {"alertname": "...", ...}, "status": "firing"}, or a list of such alerts, with times in RFC 3339 (2026-03-29T02:30:00Z)';

// Schemas check only what opskit uses; unknown keys are stripped, never rejected,
// so a newer Alertmanager or a chatty sender still gets through.
const text = z.string({ error: "expected a string" });
const status = z.enum(["firing", "resolved"], { error: 'expected "firing" or "resolved"' });

const alertmanagerAlert = z.object(
  {
    status,
    labels: z.record(z.string(), text, { error: "expected an object of string labels" }),
    annotations: z.record(z.string(), text, { error: "expected an object of string annotations" }).optional(),
    startsAt: text,
    endsAt: text.optional(),
    generatorURL: text.optional(),
    fingerprint: text.optional(),
  },
  { error: "expected an alert object" },
);

const alertmanagerPayload = z.object(
  {
    groupKey: text,
    receiver: text,
    alerts: z.array(alertmanagerAlert, { error: "expected a list of alerts" }),
  },
  { error: "expected a JSON object" },
);

// Other senders are looser about types: numbers and booleans become strings.
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: "expected a string" }).transform(String);
const genericAlert = z.object(
  {
    labels: z.record(z.string(), scalar, { error: "expected an object of labels" }),
    annotations: z.record(z.string(), scalar, { error: "expected an object of annotations" }).optional(),
    status: status.optional(),
    startsAt: text.nullish(),
    endsAt: text.nullish(),
    generatorURL: text.nullish(),
    fingerprint: text.nullish(),
  },
  { error: "expected an alert object" },
);

function payloadError(path: Path, message: string, hint: string): OpsError {
  return new OpsError({ code: "E_ALERT_PAYLOAD", message: `${formatPath(path)}: ${message}`, hint, exitCode: ExitCode.config });
}

/** A JSON path for people: alerts[2].labels.severity, labels["team name"]. */
function formatPath(path: Path): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out === "" ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === "" ? "body" : out;
}

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${typeof value} ${String(value)}`;
}

/** Validates with a schema; the first problem becomes an OpsError naming its JSON path. */
function validate<S extends z.ZodType>(schema: S, value: unknown, base: Path, hint: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = [...base, ...issue.path];
  const actual = valueAt(value, issue.path);
  if (issue.code === "too_big" && Array.isArray(actual)) {
    throw payloadError(path, `${actual.length} alerts in one notification; the limit is ${String(issue.maximum)}`, "split them over several requests");
  }
  const typed = issue.code === "invalid_type" || issue.code === "invalid_union" || issue.code === "invalid_value";
  if (typed && actual === undefined) throw payloadError(path, `missing (${issue.message})`, hint);
  throw payloadError(path, typed ? `${issue.message}, got ${describeValue(actual)}` : issue.message, hint);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
/** Go's zero time.Time, 0001-01-01T00:00:00Z: what Alertmanager sends for "no end". */
const GO_ZERO_TIME_MS = -62135596800000;

/**
 * RFC 3339 text to epoch ms, keeping milliseconds (finer digits are dropped,
 * as Go's UnixMilli does); Go's zero time means "unset" and gives undefined.
 */
function parseAlertTime(value: string, path: Path, hint: string): number | undefined {
  const match = RFC3339.exec(value);
  const invalid = () => payloadError(path, `not an RFC 3339 time: ${JSON.stringify(value)}`, hint);
  if (!match) throw invalid();
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offsetHour, offsetMinute] = match;
  const n = (digits: string | undefined) => Number(digits ?? "0");
  if (n(hour) > 23 || n(minute) > 59 || n(second) > 59 || n(offsetHour) > 23 || n(offsetMinute) > 59) throw invalid();
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(n(year), n(month) - 1, n(day));
  if (date.getUTCFullYear() !== n(year) || date.getUTCMonth() !== n(month) - 1 || date.getUTCDate() !== n(day)) throw invalid();
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, "0")) : 0;
  date.setUTCHours(n(hour), n(minute), n(second), ms);
  const offsetMs = zulu ? 0 : (sign === "-" ? -1 : 1) * (n(offsetHour) * 60 + n(offsetMinute)) * 60_000;
  const epochMs = date.getTime() - offsetMs;
  return epochMs === GO_ZERO_TIME_MS ? undefined : epochMs;
}

function requiredTime(value: string, path: Path, hint: string): number {
  const ms = parseAlertTime(value, path, hint);
  if (ms === undefined) throw payloadError(path, "the zero time is not a start time", hint);
  return ms;
}

/**
 * Reads Alertmanager's webhook notification (version 4). Every alert of the
 * group is returned, firing and resolved alike; each keeps Alertmanager's own
 * fingerprint, or gets the same one computed from its labels.
 */
export function parseAlertmanagerPayload(body: unknown): { groupKey: string; receiver: string; alerts: Alert[] } {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const version = (body as Record<string, unknown>).version;
    if (version !== "4") {
      throw payloadError(
        ["version"],
        version === undefined ? 'missing: opskit reads Alertmanager webhook version "4"' : `Alertmanager webhook version ${JSON.stringify(version)} is not supported; opskit reads version "4"`,
        AM_HINT,
      );
    }
    // Counted before anything is validated: a huge list costs nothing to refuse.
    const alerts = (body as Record<string, unknown>).alerts;
    if (Array.isArray(alerts) && alerts.length > MAX_GENERIC_ALERTS) {
      throw payloadError(["alerts"], `${alerts.length} alerts in one notification; the limit is ${MAX_GENERIC_ALERTS}`, "set max_alerts in Alertmanager's webhook_configs, or group alerts more finely (group_by)");
    }
  }
  const payload = validate(alertmanagerPayload, body, [], AM_HINT);
  const alerts = payload.alerts.map((alert, i): Alert => {
    const at = (field: string) => ["alerts", i, field];
    const endsAt = alert.endsAt === undefined ? undefined : parseAlertTime(alert.endsAt, at("endsAt"), AM_HINT);
    return {
      source: "alertmanager",
      fingerprint: alert.fingerprint || alertFingerprint(alert.labels),
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations ?? {},
      startsAt: requiredTime(alert.startsAt, at("startsAt"), AM_HINT),
      ...(endsAt !== undefined ? { endsAt } : {}),
      ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
    };
  });
  return { groupKey: payload.groupKey, receiver: payload.receiver, alerts };
}

/**
 * Reads a generic alert notification: one alert object or a list of them.
 * `labels.alertname` is required; status defaults to firing, startsAt to `now`.
 */
export function parseGenericPayload(body: unknown, now: number): Alert[] {
  const list = Array.isArray(body);
  if (list && body.length > MAX_GENERIC_ALERTS) {
    throw payloadError([], `${body.length} alerts in one notification; the limit is ${MAX_GENERIC_ALERTS}`, "split them over several requests");
  }
  const items: unknown[] = list ? body : [body];
  return items.map((item, i) => {
    const base: Path = list ? [i] : [];
    const alert = validate(genericAlert, item, base, GENERIC_HINT);
    const at = (...path: PropertyKey[]) => [...base, ...path];
    if (!alert.labels.alertname) throw payloadError(at("labels", "alertname"), "missing: every alert needs an alertname label", GENERIC_HINT);
    for (const name of Object.keys(alert.labels)) if (name === "") throw payloadError(at("labels"), "a label name is empty", GENERIC_HINT);
    const startsAt = alert.startsAt ? parseAlertTime(alert.startsAt, at("startsAt"), GENERIC_HINT) : undefined;
    const endsAt = alert.endsAt ? parseAlertTime(alert.endsAt, at("endsAt"), GENERIC_HINT) : undefined;
    return {
      source: "generic",
      fingerprint: alert.fingerprint || alertFingerprint(alert.labels),
      status: alert.status ?? "firing",
      labels: alert.labels,
      annotations: alert.annotations ?? {},
      startsAt: startsAt ?? now,
      ...(endsAt !== undefined ? { endsAt } : {}),
      ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
    };
  });
}

const utf8 = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Alertmanager's alert fingerprint (Prometheus' model.LabelSet.Fingerprint):
 * FNV-1a 64 over the UTF-8 bytes of each label name and value, names sorted
 * bytewise as Go sorts strings, each name and value followed by 0xff (a byte
 * that cannot occur in UTF-8), rendered as 16 lowercase hex digits. The same
 * labels give the same fingerprint whichever way the alert arrived.
 */
export function alertFingerprint(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([name, value]) => [utf8.encode(name), utf8.encode(value)] as const);
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  // The 64-bit state as two 32-bit halves; the prime is 2^40 + 0x1b3.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const add = (byte: number) => {
    lo = (lo ^ byte) >>> 0;
    const low = lo * 0x1b3;
    hi = (hi * 0x1b3 + Math.floor(low / 0x1_0000_0000) + ((lo << 8) >>> 0)) >>> 0;
    lo = low >>> 0;
  };
  for (const [name, value] of pairs) {
    for (const byte of name) add(byte);
    add(0xff);
    for (const byte of value) add(byte);
    add(0xff);
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}
