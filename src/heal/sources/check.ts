import type { Alert } from "../alert.ts";
import { parseGenericPayload } from "./generic.ts";
import type { AlertSource } from "./types.ts";

/**
 * opskit's own checks. Their alerts are journaled as notifications like a
 * webhook's (so a restart processes what was not yet processed), in the
 * generic shape; no route: nothing outside the server sends them.
 */
export const checkSource: AlertSource = {
  kind: "check",
  parse: (body, receivedAt) => parseGenericPayload(body, receivedAt, "check"),
};

/** A check's alert as the notification body `checkSource.parse` reads back. */
export function checkNotificationBody(alert: Alert): string {
  return JSON.stringify({
    fingerprint: alert.fingerprint,
    status: alert.status,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: new Date(alert.startsAt).toISOString(),
    ...(alert.endsAt !== undefined ? { endsAt: new Date(alert.endsAt).toISOString() } : {}),
  });
}
