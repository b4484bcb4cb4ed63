import { z } from "zod";
import { ExitCode, OpsError } from "../../errors.ts";
import { alertFingerprint, type Alert } from "../alert.ts";

// What the alert sources share: validation that names the JSON path of a
// problem, RFC 3339 times as senders write them, and the alert object of
// Alertmanager's notifier, which Grafana Alerting sends too.

/** The most alerts one notification may carry, whatever sent it. */
export const MAX_ALERTS = 1000;

export type Path = readonly PropertyKey[];

// Schemas check only what opskit uses; unknown keys are stripped, never rejected,
// so a newer sender or a chatty one still gets through.
export const text = z.string({ error: "expected a string" });
export const alertStatus = z.enum(["firing", "resolved"], { error: 'expected "firing" or "resolved"' });

export function payloadError(path: Path, message: string, hint: string): OpsError {
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
export function validate<S extends z.ZodType>(schema: S, value: unknown, base: Path, hint: string): z.output<S> {
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
/** Go's zero time.Time, 0001-01-01T00:00:00Z: what Alertmanager and Grafana send for "no end". */
const GO_ZERO_TIME_MS = -62135596800000;

/**
 * RFC 3339 text to epoch ms, keeping milliseconds (finer digits are dropped,
 * as Go's UnixMilli does); Go's zero time means "unset" and gives undefined.
 */
export function parseAlertTime(value: string, path: Path, hint: string): number | undefined {
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

/** One alert as Alertmanager's notifier writes it (Alertmanager's webhook, Grafana Alerting's). */
export const notifierAlert = z.object(
  {
    status: alertStatus,
    labels: z.record(z.string(), text, { error: "expected an object of string labels" }),
    annotations: z.record(z.string(), text, { error: "expected an object of string annotations" }).optional(),
    startsAt: text,
    endsAt: text.optional(),
    generatorURL: text.optional(),
    fingerprint: text.optional(),
  },
  { error: "expected an alert object" },
);

type NotifierAlert = z.output<typeof notifierAlert>;

const isTextRecord = (value: unknown): value is Record<string, string> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  // __proto__ as a key is the schema's to handle: it reads as a prototype, not a label.
  for (const key in value) if (key === "__proto__" || typeof (value as Record<string, unknown>)[key] !== "string") return false;
  return true;
};
const isOptionalText = (value: unknown) => value === undefined || typeof value === "string";

/**
 * A notifier's list of alerts checked by hand, as `notifierAlert` would
 * accept it: an alert storm validates every notification, and the schema
 * costs 2-3 µs an alert. Undefined when anything is off (or unusual), for
 * the schema to decide and name the path; a property test holds the two to
 * the same verdict and the same alerts. Extra keys stay on the objects
 * (fromNotifier reads only the schema's fields).
 */
export function notifierAlertsOf(value: unknown): NotifierAlert[] | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const item of value) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return undefined;
    const alert = item as Record<string, unknown>;
    if (alert.status !== "firing" && alert.status !== "resolved") return undefined;
    if (!isTextRecord(alert.labels) || (alert.annotations !== undefined && !isTextRecord(alert.annotations))) return undefined;
    if (typeof alert.startsAt !== "string" || !isOptionalText(alert.endsAt) || !isOptionalText(alert.generatorURL) || !isOptionalText(alert.fingerprint)) return undefined;
  }
  return value as NotifierAlert[];
}

/**
 * A notification's list of alerts, counted before anything is validated (a
 * huge list costs nothing to refuse); `tooMany` says how to send fewer.
 */
export function refuseTooMany(body: unknown, tooMany: string): void {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return;
  const alerts = (body as Record<string, unknown>).alerts;
  if (Array.isArray(alerts) && alerts.length > MAX_ALERTS) throw payloadError(["alerts"], `${alerts.length} alerts in one notification; the limit is ${MAX_ALERTS}`, tooMany);
}

/**
 * Notifier alerts to opskit's: each keeps the sender's fingerprint, or gets
 * the one Alertmanager computes from its labels.
 */
export function fromNotifier(alerts: readonly NotifierAlert[], source: string, hint: string): Alert[] {
  return alerts.map((alert, i): Alert => {
    const at = (field: string) => ["alerts", i, field];
    const endsAt = alert.endsAt === undefined ? undefined : parseAlertTime(alert.endsAt, at("endsAt"), hint);
    return {
      source,
      fingerprint: alert.fingerprint || alertFingerprint(alert.labels),
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations ?? {},
      startsAt: requiredTime(alert.startsAt, at("startsAt"), hint),
      ...(endsAt !== undefined ? { endsAt } : {}),
      ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
    };
  });
}
