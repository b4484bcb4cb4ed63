// Where alerts come from: one file per sender, each with its webhook route
// and its parser, and this registry, which the server mounts and the healer
// reads stored notifications through.
import type { Alert } from "../alert.ts";
import { alertmanagerSource } from "./alertmanager.ts";
import { checkSource } from "./check.ts";
import { genericSource } from "./generic.ts";
import { grafanaSource } from "./grafana.ts";
import type { AlertSource } from "./types.ts";

export const alertSources: readonly AlertSource[] = [alertmanagerSource, genericSource, grafanaSource, checkSource];

const byKind = new Map(alertSources.map((source) => [source.kind, source]));

export function alertSource(kind: string): AlertSource | undefined {
  return byKind.get(kind);
}

/** Parses a stored notification back into its alerts, by the source that received it. */
export function alertsOf(kind: string, body: string, receivedAt: number): Alert[] {
  const source = byKind.get(kind);
  if (!source) throw new Error(`no alert source ${JSON.stringify(kind)} (a notification stored by another version of opskit?)`);
  return source.parse(JSON.parse(body) as unknown, receivedAt);
}

export { checkNotificationBody, checkSource } from "./check.ts";
export { parseAlertmanagerPayload } from "./alertmanager.ts";
export { parseGenericPayload } from "./generic.ts";
export { parseGrafanaPayload } from "./grafana.ts";
export { MAX_ALERTS } from "./payload.ts";
export type { AlertSource } from "./types.ts";
