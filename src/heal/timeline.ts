import type { IncidentEventKind, IncidentStore } from "../journal/index.ts";
import type { Sink } from "../observe/index.ts";
import type { HealEvent } from "./events.ts";
import { formatMatchers } from "./silences.ts";

interface Line {
  incidentId: number;
  at: number;
  kind: IncidentEventKind;
  message: string;
  data?: Record<string, unknown>;
}

function describeLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .filter(([name]) => name !== "alertname")
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(", ");
}

function alertLine(event: Extract<HealEvent, { type: "alert.received" }>): Line | undefined {
  const { incidentId, receivedAt: at } = event;
  if (incidentId === undefined) return undefined;
  if (event.outcome === "stale") return { incidentId, at, kind: "alert", message: "ignored: firing notification delivered after its resolve (out of order)" };
  if (event.outcome === "resolved") return { incidentId, at, kind: "alert", message: `resolved (${event.source})` };
  // Firing repeats are counted on the incident, not written: a storm would bury the timeline.
  if (event.outcome === "repeat" && event.status === "resolved") return { incidentId, at, kind: "alert", message: "resolved notification repeated" };
  return undefined;
}

/** The timeline line a heal event puts on its incident, if any. */
export function lineOf(event: HealEvent): Line | undefined {
  switch (event.type) {
    case "alert.received":
      return alertLine(event);
    case "incident.opened": {
      const labels = describeLabels(event.labels);
      return { incidentId: event.incidentId, at: event.receivedAt, kind: "alert", message: `firing: ${event.title}${labels ? ` {${labels}}` : ""} (${event.source})` };
    }
    case "rule.query":
      return { incidentId: event.incidentId, at: event.at, kind: "note", message: event.detail, data: { rule: event.rule, outcome: event.outcome } };
    case "incident.unmatched":
      return { incidentId: event.incidentId, at: event.at, kind: "note", message: "no rule matches this alert: it waits for a person (opskit incidents ack)" };
    case "incident.milestone":
      return { incidentId: event.incidentId, at: event.at, kind: "milestone", message: event.note ? `${event.milestone}: ${event.note}` : event.milestone };
    case "incident.gate": {
      // The wait is kept as its length too: a repeat of the same line folds into it with the later time, and its end moves with it.
      const at = Date.now();
      const wait = event.until !== undefined ? { until: event.until, waitMs: Math.max(0, event.until - at) } : {};
      return { incidentId: event.incidentId, at, kind: "gate", message: event.reason, data: { gate: event.gate, rule: event.rule, ...wait } };
    }
    case "rule.missing":
      return { incidentId: event.incidentId, at: event.at, kind: "note", message: `rule ${event.rule} is no longer in the config: nothing runs` };
    case "incident.silenced": {
      const matchers = formatMatchers(event.matchers);
      const message = `silenced: silence ${event.silenceId} ${matchers} by ${event.createdBy}${event.comment ? ` (${JSON.stringify(event.comment)})` : ""} until ${new Date(event.until).toISOString()}: no remediation runs until it ends`;
      return { incidentId: event.incidentId, at: event.at, kind: "gate", message, data: { gate: "silence", rule: event.rule, silenceId: event.silenceId, matchers, createdBy: event.createdBy, comment: event.comment, until: event.until } };
    }
    case "remediation.approved":
      return { incidentId: event.incidentId, at: event.at, kind: "gate", message: `approved: attempt ${event.attempt}${event.by !== undefined ? ` by ${event.by}` : ""}` };
    case "remediation.denied":
      return { incidentId: event.incidentId, at: event.at, kind: "gate", message: `denied: attempt ${event.attempt} by ${event.by}${event.reason ? `: ${event.reason}` : ""}`, data: { attempt: event.attempt, by: event.by } };
    case "remediation.started": {
      const { continues } = event;
      const rerun = continues && continues.rerun.length > 0 ? `, ${continues.rerun.join(", ")} (cut off there) runs again` : "";
      const tail = continues ? `; continues run ${continues.runId}: steps that finished there do not run again${rerun}` : "";
      const message = `remediation started: attempt ${event.attempt} of ${event.maxAttempts}, workflow ${event.workflow} on ${event.targets.join(", ")} (run ${event.runId})${tail}`;
      return { incidentId: event.incidentId, at: event.at, kind: "run", message, data: { runId: event.runId, attempt: event.attempt } };
    }
    case "remediation.finished":
      return { incidentId: event.incidentId, at: event.at, kind: "run", message: `attempt ${event.attempt} ${event.status}: ${event.detail ?? ""}`, data: { attempt: event.attempt, ...(event.runId ? { runId: event.runId } : {}) } };
    case "remediation.interrupted": {
      const then = event.onInterrupted === "escalate" ? "escalating (onInterrupted: escalate)" : "a new attempt may run (onInterrupted: retry)";
      return { incidentId: event.incidentId, at: event.at, kind: "run", message: `attempt ${event.attempt} interrupted: ${event.replica ? `replica ${event.replica}` : "the server"} stopped during it; ${then}` };
    }
    case "incident.escalated":
      return { incidentId: event.incidentId, at: event.at, kind: "escalation", message: event.reason };
    case "escalation.skipped":
      return { incidentId: event.incidentId, at: event.at, kind: "gate", message: `already escalated; ${event.reason.replace(/^escalated: /, "")}` };
    case "escalation.finished":
      return { incidentId: event.incidentId, at: event.at, kind: "escalation", message: `escalation ${event.ok ? "sent" : "failed"}: ${event.detail}`, data: { runId: event.runId } };
    case "incident.resolved":
    case "silence.created":
    case "silence.expired":
    case "remediation.paused":
    case "rule.disabled":
    case "notifications.processed":
    case "heal.error":
      return undefined;
  }
}

export interface Timeline {
  /** Puts each event's line on its incident's timeline, in the order the events come. */
  sink: Sink<HealEvent>;
  /** Resolves once every line given so far is written; rejects with the first write that failed. */
  written(): Promise<void>;
}

/**
 * The incident timeline as a sink of heal events, as engine/journal-sink.ts
 * is for runs: the heal core emits, this writes. `store` is the journal or
 * the transaction under way, so a line commits with the decision it records.
 */
export function timelineSink(store: IncidentStore): Timeline {
  let pending: Promise<void>[] = [];
  return {
    sink(event) {
      const line = lineOf(event);
      if (!line) return;
      const { incidentId, ...entry } = line;
      const write = Promise.resolve(store.addIncidentEvent(incidentId, entry));
      // Observed here, reported by written(): a failure is never an unhandled rejection.
      write.catch(() => undefined);
      pending.push(write);
    },
    async written() {
      while (pending.length > 0) {
        const writes = pending;
        pending = [];
        await Promise.all(writes);
      }
    },
  };
}
