// Where an open incident stands with the safety gates, for people: read from
// its attempts and the latest gate decision on its timeline (the healer
// writes each decision there with its reason and, for a wait, when it
// ends), so every replica answers alike.
import type { AttemptRecord, GateFacts, IncidentEventRecord, IncidentRecord } from "../journal/index.ts";

export type GateStateName = "running" | "queued" | "awaiting_approval" | "suppressed" | "escalated" | "waiting" | "unmatched";

export interface GateState {
  state: GateStateName;
  reason?: string;
  /** When a wait ends (cooldown, rate limit) and the gates decide again, epoch ms. */
  until?: number;
  /** The attempt the state is about. */
  attempt?: number;
}

/** When a wait recorded on the timeline ends: its length after the line's latest time (a repeat of the same line folds into it). */
function waitEnd(line: IncidentEventRecord): number | undefined {
  const { until, waitMs } = line.data as { until?: unknown; waitMs?: unknown };
  if (typeof waitMs === "number") return line.at + waitMs;
  return typeof until === "number" ? until : undefined;
}

/** The reason as a person reads it now: without the "suppressed: " prefix, and without a time left that was true when it was written. */
function reasonOf(message: string): string {
  return message.replace(/^(suppressed|escalated|waiting|dry-run): /, "").replace(/, [\dhms.]+ left$/, "");
}

const lastChange = (attempt: AttemptRecord | undefined) => (attempt ? Math.max(attempt.createdAt, attempt.startedAt ?? 0, attempt.finishedAt ?? 0) : 0);

/**
 * The gate state of an incident (undefined once it is resolved): an attempt
 * in flight says what it waits for; else an escalation hands it to people; a
 * pause, a wait that has not ended or a dry run suppresses it; else it waits
 * (for the alert to resolve, or for the next decision).
 */
export function gateOf(incident: IncidentRecord, facts: GateFacts | undefined, now: number, paused: boolean): GateState | undefined {
  if (incident.status !== "open") return undefined;
  if (!incident.rule) return { state: "unmatched", reason: "no rule matches this alert: it waits for a person" };
  const attempts = facts?.attempts ?? [];
  const last = attempts.at(-1);
  const active = [...attempts].reverse().find((a) => a.status === "awaiting_approval" || a.status === "queued" || a.status === "running" || a.status === "verifying");
  if (active?.status === "awaiting_approval") return { state: "awaiting_approval", attempt: active.attempt, reason: `approval required for attempt ${active.attempt}` };
  if (active?.status === "queued") return { state: "queued", attempt: active.attempt, reason: `attempt ${active.attempt} waits for a free slot` };
  if (active) return { state: "running", attempt: active.attempt, reason: active.status === "verifying" ? `attempt ${active.attempt} ran; verifying recovery` : `attempt ${active.attempt} is running` };
  if (incident.escalated) {
    const line = facts?.escalation;
    return { state: "escalated", reason: line ? reasonOf(line.message) : "escalated to people" };
  }
  if (paused) return { state: "suppressed", reason: "automatic remediation is paused" };
  const gate = facts?.gate;
  // A decision older than the last attempt's last change is history: the attempt came after it.
  if (gate && gate.at >= lastChange(last)) {
    const name = (gate.data as { gate?: unknown }).gate;
    if (name === "cooldown" || name === "rateLimit") {
      const until = waitEnd(gate);
      if (until !== undefined && until > now) return { state: "suppressed", reason: reasonOf(gate.message), until };
      return { state: "waiting", reason: `${name === "cooldown" ? "cooldown" : "rate limit"} over: the gates decide again` };
    }
    if (name === "dryRun") return { state: "suppressed", reason: gate.message };
    if (name === "silence") {
      const { until, silenceId, createdBy } = gate.data as { until?: unknown; silenceId?: unknown; createdBy?: unknown };
      // Expired early, the decision that follows (an attempt, another gate) takes its place.
      if (typeof until === "number" && until > now) return { state: "suppressed", reason: `silenced by silence ${String(silenceId)} (${String(createdBy)})`, until };
    }
  }
  if (!last) return { state: "waiting", reason: "the gates decide" };
  const ended = last.status === "succeeded" ? "succeeded; waiting for the alert to resolve" : last.status === "dry_run" ? "recorded as a dry run" : last.status;
  return { state: "waiting", attempt: last.attempt, reason: `attempt ${last.attempt} ${ended}` };
}
