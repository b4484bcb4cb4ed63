import type { AlertSourceKind, AttemptStatus, Milestone, SilenceMatcher } from "../journal/index.ts";
import type { Sink } from "../observe/index.ts";

/**
 * What the self-healing core reports. Like the run engine, it never prints
 * and never writes a timeline line itself: the incident timeline
 * (timeline.ts), the serve command's terminal and --json, the metrics and
 * the demo are sinks of these. Times are epoch ms; `at`, where an event has
 * one, is when its fact happened (--json prints it as ISO 8601).
 * Field names are a contract for users' scripts: add, never rename.
 */
export type HealEvent =
  | { type: "alert.received"; source: AlertSourceKind; fingerprint: string; status: "firing" | "resolved"; alertname: string; incidentId?: number; outcome: "opened" | "repeat" | "resolved" | "stale" | "orphan"; receivedAt: number }
  /** `traceId`: the incident's W3C trace, which its intake, gates, attempts and their runs join. */
  | { type: "incident.opened"; incidentId: number; title: string; fingerprint: string; rule?: string; labels: Record<string, string>; source: AlertSourceKind; receivedAt: number; traceId: string }
  /** A rule with a PromQL query was tried for the incident's alert: whether its `when` held over the answer, or the query failed (and the rule did not match). */
  | { type: "rule.query"; incidentId: number; rule: string; outcome: "matched" | "unmatched" | "failed"; detail: string; at: number }
  /** No rule matches the incident's alert: it waits for a person. */
  | { type: "incident.unmatched"; incidentId: number; at: number }
  | { type: "incident.milestone"; incidentId: number; milestone: Milestone; at: number; note?: string }
  /** `until`: when a wait (cooldown, rate limit) ends and the gates decide again, epoch ms. */
  | { type: "incident.gate"; incidentId: number; rule: string; gate: string; reason: string; until?: number }
  /**
   * An active silence holds the incident: nothing runs (or escalates) for it
   * until the silence ends or is expired, and then the gates decide again.
   * `until` is the silence's end, epoch ms.
   */
  | { type: "incident.silenced"; incidentId: number; rule: string; silenceId: string; matchers: SilenceMatcher[]; createdBy: string; comment: string; until: number; at: number }
  /** A silence was added or expired (`by`: who said so). */
  | { type: "silence.created"; silenceId: string; matchers: SilenceMatcher[]; startsAt: number; endsAt: number; createdBy: string; comment: string; at: number }
  | { type: "silence.expired"; silenceId: string; by: string; at: number }
  /** Automatic remediation was paused or resumed, by whom. */
  | { type: "remediation.paused"; paused: boolean; by: string; at: number }
  /** An incident's rule is gone from the config: nothing runs for it. */
  | { type: "rule.missing"; incidentId: number; rule: string; at: number }
  | { type: "remediation.approved"; incidentId: number; rule: string; attempt: number; at: number; by?: string }
  /** A person refused the attempt waiting for approval: it is rejected and the incident is escalated to people. */
  | { type: "remediation.denied"; incidentId: number; rule: string; attempt: number; by: string; reason?: string; at: number }
  | {
      type: "remediation.started";
      incidentId: number;
      rule: string;
      attempt: number;
      maxAttempts: number;
      runId: string;
      workflow: string;
      targets: string[];
      /** The interrupted run this one continues, and the steps cut off there that run again. */
      continues?: { runId: string; rerun: string[] };
      at: number;
      /** The incident's trace and the attempt's span, the parent of the run's (none for an incident opened before traces were kept). */
      traceId?: string;
      spanId?: string;
    }
  | { type: "remediation.finished"; incidentId: number; rule: string; attempt: number; runId?: string; status: AttemptStatus; durationMs: number; detail?: string; at: number }
  /**
   * The server running this attempt stopped during it (found at the next
   * start), or the replica running it did (found by the leader: `replica`
   * names it); the rule's onInterrupted decides what follows.
   */
  | { type: "remediation.interrupted"; incidentId: number; rule: string; attempt: number; onInterrupted: "retry" | "escalate"; replica?: string; at: number }
  | { type: "incident.escalated"; incidentId: number; rule?: string; reason: string; at: number; traceId?: string }
  /** A further reason to escalate an incident that already is. */
  | { type: "escalation.skipped"; incidentId: number; reason: string; at: number }
  | { type: "escalation.finished"; incidentId: number; rule: string; runId: string; ok: boolean; detail: string; at: number }
  | { type: "incident.resolved"; incidentId: number; title: string; resolution: string; milestones: Partial<Record<Milestone, number>>; traceId?: string }
  | { type: "rule.disabled"; rule: string; reason: string }
  | { type: "notifications.processed"; count: number; lagMs: number }
  /** Something the core could not do (a notification it cannot apply, a journal that fails); it goes on with the rest. */
  | { type: "heal.error"; message: string; incidentId?: number; notificationId?: number };

export type HealSink = Sink<HealEvent>;
