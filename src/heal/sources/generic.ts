import { z } from "zod";
import { alertFingerprint, type Alert } from "../alert.ts";
import { MAX_ALERTS, alertStatus, parseAlertTime, payloadError, text, validate, type Path } from "./payload.ts";
import type { AlertSource } from "./types.ts";

const HINT = 'post {"labels": {"alertname": "...", ...}, "status": "firing"}, or a list of such alerts, with times in RFC 3339 (2026-03-29T02:30:00Z)';

// Other senders are looser about types: numbers and booleans become strings.
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: "expected a string" }).transform(String);
const genericAlert = z.object(
  {
    labels: z.record(z.string(), scalar, { error: "expected an object of labels" }),
    annotations: z.record(z.string(), scalar, { error: "expected an object of annotations" }).optional(),
    status: alertStatus.optional(),
    startsAt: text.nullish(),
    endsAt: text.nullish(),
    generatorURL: text.nullish(),
    fingerprint: text.nullish(),
  },
  { error: "expected an alert object" },
);

/**
 * Reads a generic alert notification: one alert object or a list of them.
 * `labels.alertname` is required; status defaults to firing, startsAt to `now`.
 * Each alert is stamped with `source` (a check's stored alerts read the same way).
 */
export function parseGenericPayload(body: unknown, now: number, source = "generic"): Alert[] {
  const list = Array.isArray(body);
  if (list && body.length > MAX_ALERTS) {
    throw payloadError([], `${body.length} alerts in one notification; the limit is ${MAX_ALERTS}`, "split them over several requests");
  }
  const items: unknown[] = list ? body : [body];
  return items.map((item, i) => {
    const base: Path = list ? [i] : [];
    const alert = validate(genericAlert, item, base, HINT);
    const at = (...path: PropertyKey[]) => [...base, ...path];
    if (!alert.labels.alertname) throw payloadError(at("labels", "alertname"), "missing: every alert needs an alertname label", HINT);
    for (const name of Object.keys(alert.labels)) if (name === "") throw payloadError(at("labels"), "a label name is empty", HINT);
    const startsAt = alert.startsAt ? parseAlertTime(alert.startsAt, at("startsAt"), HINT) : undefined;
    const endsAt = alert.endsAt ? parseAlertTime(alert.endsAt, at("endsAt"), HINT) : undefined;
    return {
      source,
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

/** Anything that can post JSON: one alert or a list, labels and an alertname required. */
export const genericSource: AlertSource = {
  kind: "generic",
  route: { path: "/api/v1/alerts", endpoint: "alerts" },
  parse: (body, receivedAt) => parseGenericPayload(body, receivedAt),
};
