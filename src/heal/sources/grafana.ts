import { z } from "zod";
import type { Alert } from "../alert.ts";
import { fromNotifier, notifierAlert, payloadError, refuseTooMany, validate } from "./payload.ts";
import type { AlertSource } from "./types.ts";

const HINT = "add a webhook contact point in Grafana Alerting (Grafana 9 and later) with this URL; its body is sent unchanged";

// Grafana Alerting's notifier is a fork of Alertmanager's: the same alert
// objects (labels, annotations, startsAt, endsAt with Go's zero time,
// fingerprint), wrapped with Grafana's own fields (orgId, title, state,
// message, values per alert), which opskit does not read.
const payload = z.object({ alerts: z.array(notifierAlert, { error: "expected a list of alerts" }) }, { error: "expected a JSON object" });

/**
 * Reads Grafana Alerting's webhook notification (version "1"). Every alert
 * of the group is returned; each keeps Grafana's fingerprint (computed over
 * labels that include the rule's private ones, so it is not recomputed here).
 */
export function parseGrafanaPayload(body: unknown): Alert[] {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    if (record.version !== "1") {
      // Grafana's legacy dashboard alerting (before 9) sent ruleName and evalMatches, one alert per body, no labels.
      const legacy = record.version === undefined && ("evalMatches" in record || "ruleName" in record);
      const message = legacy
        ? "missing: this is Grafana's legacy dashboard alerting, which opskit does not read; opskit reads Grafana Alerting's webhook, version \"1\""
        : record.version === undefined
          ? 'missing: opskit reads Grafana Alerting webhook version "1"'
          : `Grafana Alerting webhook version ${JSON.stringify(record.version)} is not supported; opskit reads version "1"`;
      throw payloadError(["version"], message, HINT);
    }
    refuseTooMany(body, "group alerts more finely in the notification policy (group_by), or split the contact point");
  }
  return fromNotifier(validate(payload, body, [], HINT).alerts, "grafana", HINT);
}

/** Grafana Alerting's webhook contact point. */
export const grafanaSource: AlertSource = {
  kind: "grafana",
  route: { path: "/api/v1/alerts/grafana", endpoint: "grafana" },
  parse: (body) => parseGrafanaPayload(body),
};
