// Which column of an export holds each field: the names tools write for
// them, recognised whatever their case and separators (created_at, createdAt,
// "Created At" are one name), and the presets for the exports of PagerDuty,
// Opsgenie and incident.io, whose columns and time formats are known.

export const mappedFields = ["id", "title", "service", "severity", "started", "detected", "acknowledged", "remediation_started", "resolved", "escalated"] as const;
export type MappedField = (typeof mappedFields)[number];

/** A column name without case, blanks or separators: `Created At`, `created_at` and `createdAt` are `createdat`. */
export const foldName = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, "");

/**
 * The names a field is recognised under when nothing maps it, in two ranks:
 * the field's own name and its forms (`resolved_at`) first, then other
 * tools' words for it (`closed_at`). A column of the first rank wins over
 * one of the second; two of one rank are ambiguous, and the import asks
 * which (--map). Durations (`seconds_to_resolve`, Opsgenie's `AckTime`) are
 * not times and are left out: the presets read them.
 */
export const recognisedNames: Record<MappedField, readonly [own: readonly string[], others: readonly string[]]> = {
  id: [["id", "incident_id", "incident id"], ["incident_number", "number", "reference", "ref", "key", "incident_key", "tiny_id", "alert_id"]],
  title: [["title", "incident_title"], ["name", "summary", "description", "message", "subject"]],
  service: [["service", "service_name", "services"], ["affected_service", "affected_services", "entity", "component", "application", "app"]],
  severity: [["severity", "sev"], ["urgency", "priority", "priority_name", "level"]],
  started: [
    ["started", "started_at", "started_on", "start", "start_time", "start_date", "starts_at"],
    ["created", "created_at", "created_on", "creation_time", "opened", "opened_at", "opened_on", "triggered", "triggered_at", "triggered_on", "reported_at", "impact_started_at", "fired_at", "raised_at"],
  ],
  detected: [["detected", "detected_at", "detected_on", "detection_time"], ["identified_at", "noticed_at"]],
  acknowledged: [["acknowledged", "acknowledged_at", "acknowledged_on", "acked_at", "ack_at"], ["accepted_at", "first_ack_at", "first_acknowledged_at", "responded_at"]],
  remediation_started: [["remediation_started", "remediation_started_at", "remediation_start"], ["mitigation_started_at", "fixing_at", "work_started_at"]],
  resolved: [["resolved", "resolved_at", "resolved_on", "resolution_time", "resolved_time"], ["closed", "closed_at", "closed_on", "ended_at", "end_time", "ends_at", "recovered_at", "mitigated_at"]],
  escalated: [["escalated", "was_escalated", "is_escalated"], []],
};

/** A milestone an export gives as a duration after the start (PagerDuty's seconds_to_first_ack, Opsgenie's AckTime in ms). */
export interface AfterStart {
  column: string;
  unitMs: number;
}

export interface Preset {
  /** The export it reads, for the docs and --help. */
  export: string;
  /** Each field's column, the first the file has; a field it leaves out is recognised as without a preset. */
  fields: Partial<Record<MappedField, readonly string[]>>;
  /** Milestones given as durations after `started`, used when the file has no time for them. */
  afterStart?: Partial<Record<"acknowledged" | "resolved", AfterStart>>;
  /** Label -> the columns that may hold it, the first the file has. */
  labels?: Record<string, readonly string[]>;
}

/**
 * What the tools write. PagerDuty: the incidents report and Analytics' raw
 * incident data (`created_on`/`created_at` in the account's zone with its
 * offset, `seconds_to_first_ack`, `escalation_count`). Opsgenie: the alerts
 * report (`CreatedAt` in epoch milliseconds, `AckTime` and `CloseTime` in
 * milliseconds after it, status open/closed). incident.io: the incidents
 * CSV export ("Reported at" and the other timestamps as
 * `2024-05-01 10:22:33 UTC`, statuses such as Triage, Fixing, Closed).
 */
export const presets: Record<string, Preset> = {
  pagerduty: {
    export: "PagerDuty incidents CSV (Reports, Analytics raw incident data)",
    fields: {
      id: ["incident_number", "Incident Number", "id"],
      title: ["description", "title", "Title"],
      service: ["service_name", "Service Name", "Service"],
      severity: ["urgency", "Urgency", "priority_name"],
      started: ["created_on", "created_at", "Created On", "Created"],
      acknowledged: ["acknowledged_on", "first_acknowledged_at", "Acknowledged On"],
      resolved: ["resolved_on", "resolved_at", "Resolved On", "Resolved"],
      escalated: ["escalation_count", "manual_escalation_count"],
    },
    afterStart: { acknowledged: { column: "seconds_to_first_ack", unitMs: 1000 }, resolved: { column: "seconds_to_resolve", unitMs: 1000 } },
    labels: { team: ["team_name", "Team", "teams"], escalation_policy: ["escalation_policy_name"] },
  },
  opsgenie: {
    export: "Opsgenie alerts CSV export",
    fields: {
      id: ["TinyId", "AlertId", "Alias"],
      title: ["Message"],
      service: ["Entity", "Source"],
      severity: ["Priority"],
      started: ["CreatedAt", "CreatedAtInMs"],
      acknowledged: ["AcknowledgedAt"],
      resolved: ["ClosedAt"],
    },
    afterStart: { acknowledged: { column: "AckTime", unitMs: 1 }, resolved: { column: "CloseTime", unitMs: 1 } },
    labels: { team: ["Teams"], owner: ["Owner"] },
  },
  "incident-io": {
    export: "incident.io incidents CSV export",
    fields: {
      id: ["Reference", "ID"],
      title: ["Name"],
      service: ["Affected services", "Affected service"],
      severity: ["Severity"],
      started: ["Impact started at", "Reported at", "Created at"],
      detected: ["Reported at", "Created at"],
      acknowledged: ["Accepted at", "Acknowledged at"],
      remediation_started: ["Fixing at"],
      resolved: ["Resolved at", "Closed at"],
    },
    labels: { type: ["Incident type", "Type"], status: ["Status"] },
  },
};

export const presetNames = Object.keys(presets);
