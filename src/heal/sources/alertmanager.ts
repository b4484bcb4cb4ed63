import { z } from "zod";
import type { Alert } from "../alert.ts";
import { fromNotifier, notifierAlert, notifierAlertsOf, payloadError, refuseTooMany, text, validate } from "./payload.ts";
import type { AlertSource } from "./types.ts";

const HINT = "send Alertmanager's webhook (webhook_configs, version 4) unchanged; other senders post to /api/v1/alerts";

const payload = z.object(
  {
    groupKey: text,
    receiver: text,
    alerts: z.array(notifierAlert, { error: "expected a list of alerts" }),
  },
  { error: "expected a JSON object" },
);

/** The payload as the schema reads it, checked by hand (see notifierAlertsOf); undefined for the schema to decide. */
function wellFormed(body: unknown): z.output<typeof payload> | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return undefined;
  const { groupKey, receiver, alerts } = body as Record<string, unknown>;
  if (typeof groupKey !== "string" || typeof receiver !== "string") return undefined;
  const checked = notifierAlertsOf(alerts);
  return checked && { groupKey, receiver, alerts: checked };
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
        HINT,
      );
    }
    refuseTooMany(body, "set max_alerts in Alertmanager's webhook_configs, or group alerts more finely (group_by)");
  }
  const notification = wellFormed(body) ?? validate(payload, body, [], HINT);
  return { groupKey: notification.groupKey, receiver: notification.receiver, alerts: fromNotifier(notification.alerts, "alertmanager", HINT) };
}

/** Prometheus Alertmanager's webhook_configs receiver. */
export const alertmanagerSource: AlertSource = {
  kind: "alertmanager",
  route: { path: "/api/v1/alerts/alertmanager", endpoint: "alertmanager" },
  parse: (body) => parseAlertmanagerPayload(body).alerts,
};
