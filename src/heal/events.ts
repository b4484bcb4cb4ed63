import type { AlertSourceKind, AttemptStatus, Milestone } from "../journal/index.ts";

/**
 * What the self-healing core reports. Like the run engine, it never prints:
 * the serve command's terminal, the metrics and the demo subscribe here.
 */
export type HealEvent =
  | { type: "alert.received"; source: AlertSourceKind; fingerprint: string; status: "firing" | "resolved"; alertname: string; incidentId?: number; outcome: "opened" | "repeat" | "resolved" | "stale" | "orphan" }
  | { type: "incident.opened"; incidentId: number; title: string; fingerprint: string; rule?: string; labels: Record<string, string> }
  | { type: "incident.milestone"; incidentId: number; milestone: Milestone; at: number }
  | { type: "incident.gate"; incidentId: number; rule: string; gate: string; reason: string }
  | { type: "remediation.started"; incidentId: number; rule: string; attempt: number; runId: string; workflow: string; targets: string[] }
  | { type: "remediation.finished"; incidentId: number; rule: string; attempt: number; runId?: string; status: AttemptStatus; durationMs: number; detail?: string }
  | { type: "incident.escalated"; incidentId: number; rule?: string; reason: string }
  | { type: "incident.resolved"; incidentId: number; title: string; resolution: string; milestones: Partial<Record<Milestone, number>> }
  | { type: "rule.disabled"; rule: string; reason: string }
  | { type: "notifications.processed"; count: number; lagMs: number };

export type HealSink = (event: HealEvent) => void;
