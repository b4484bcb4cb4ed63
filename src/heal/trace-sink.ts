import { attemptSpanId, escalationSpanId, incidentSpanId, newSpanId, type OpenSpan, type SpanAttributes, type SpanRecorder, type SpanStart } from "../observe/index.ts";
import type { HealEvent, HealSink } from "./events.ts";

/**
 * Incidents as traces: a sink of heal events that puts an incident's alert
 * intake, gate decisions, approvals, attempts, escalation and resolution in
 * the incident's trace (its trace id is in the journal), so its runs (whose
 * spans hang under their attempt's) and everything that led to them read as
 * one tree:
 *
 *   incident <id>                  the root, exported when the incident resolves
 *   ├─ alert.received / incident.opened / gate <name> / remediation.approved …
 *   ├─ attempt <n>                 remediation.started → remediation.finished
 *   │   └─ run <workflow>          (engine/trace-sink.ts, in the same trace)
 *   └─ incident.escalated          the escalation run's parent
 *
 * The root lives as long as the incident, possibly days and across
 * restarts and replicas, so it is not held open: it is made whole from the
 * milestones of incident.resolved (start, end, and each milestone as a span
 * event) with the id every process derives from the trace id, the id its
 * children named as their parent all along. Children are exported as they
 * end; a collector joins them to the root by trace and span id whenever it
 * arrives (an incident still open shows its children under a root not yet
 * received). Repeat notifications are not spans: a storm would bury the rest.
 */
export interface IncidentTraceOptions {
  /** An incident's trace id from the journal, for events about incidents this process did not open. */
  traceOf?(incidentId: number): Promise<string | undefined>;
}

/** Incidents remembered with their trace id; older ones are looked up again if they come back. */
const REMEMBERED = 10_000;

type Pending = { event: HealEvent; at: number }[];

export function incidentTraceSink(recorder: SpanRecorder, options: IncidentTraceOptions = {}): HealSink {
  const traces = new Map<number, string>();
  const lookups = new Map<number, Pending>();
  const attempts = new Map<string, OpenSpan>();
  const remember = (incidentId: number, traceId: string) => {
    traces.delete(incidentId);
    traces.set(incidentId, traceId);
    if (traces.size > REMEMBERED) traces.delete(traces.keys().next().value!);
  };

  const child = (traceId: string, incidentId: number, span: Omit<SpanStart, "traceId" | "parentSpanId" | "spanId"> & { spanId?: string }): OpenSpan =>
    recorder.start({ ...span, traceId, spanId: span.spanId ?? newSpanId(), parentSpanId: incidentSpanId(traceId), attributes: { "opskit.incident.id": incidentId, ...span.attributes } });
  /** A fact without a duration: a span that starts and ends at its time. */
  const instant = (traceId: string, incidentId: number, name: string, at: number, attributes: SpanAttributes, options: { kind?: SpanStart["kind"]; error?: string; spanId?: string } = {}) => {
    const span = child(traceId, incidentId, { name, startTime: at, attributes, ...(options.kind ? { kind: options.kind } : {}), ...(options.spanId ? { spanId: options.spanId } : {}) });
    if (options.error) span.fail(options.error);
    span.end(at);
  };

  const apply = (traceId: string, event: HealEvent, now: number): void => {
    switch (event.type) {
      case "alert.received":
        if (event.outcome === "repeat" || event.incidentId === undefined) return;
        return instant(traceId, event.incidentId, "alert.received", event.receivedAt, { "opskit.alert.source": event.source, "opskit.alert.name": event.alertname, "opskit.alert.fingerprint": event.fingerprint, "opskit.alert.status": event.status, "opskit.alert.outcome": event.outcome }, { kind: "server" });
      case "incident.opened": {
        const labels = Object.fromEntries(Object.entries(event.labels).map(([k, v]) => [`opskit.alert.label.${k}`, v]));
        return instant(traceId, event.incidentId, "incident.opened", event.receivedAt, { "opskit.incident.title": event.title, "opskit.alert.fingerprint": event.fingerprint, "opskit.alert.source": event.source, "opskit.rule": event.rule, ...labels });
      }
      case "incident.unmatched":
        return instant(traceId, event.incidentId, "incident.unmatched", event.at, {});
      case "rule.query":
        return instant(traceId, event.incidentId, "rule.query", event.at, { "opskit.rule": event.rule, "opskit.rule.query.outcome": event.outcome, "opskit.rule.query.detail": event.detail }, event.outcome === "failed" ? { error: event.detail } : {});
      case "incident.gate":
        return instant(traceId, event.incidentId, `gate ${event.gate}`, now, { "opskit.rule": event.rule, "opskit.gate": event.gate, "opskit.gate.reason": event.reason, ...(event.until !== undefined ? { "opskit.gate.until": new Date(event.until).toISOString() } : {}) });
      case "rule.missing":
        return instant(traceId, event.incidentId, "rule.missing", event.at, { "opskit.rule": event.rule }, { error: `rule ${event.rule} is not in the config` });
      case "remediation.approved":
        return instant(traceId, event.incidentId, "remediation.approved", event.at, { "opskit.rule": event.rule, "opskit.attempt": event.attempt, ...(event.by ? { "opskit.approved_by": event.by } : {}) });
      case "remediation.denied":
        return instant(traceId, event.incidentId, "remediation.denied", event.at, { "opskit.rule": event.rule, "opskit.attempt": event.attempt, "opskit.denied_by": event.by, ...(event.reason ? { "opskit.denied_reason": event.reason } : {}) });
      case "remediation.started": {
        const key = `${event.incidentId}/${event.attempt}`;
        attempts.get(key)?.end(event.at);
        const attributes = { "opskit.rule": event.rule, "opskit.attempt": event.attempt, "opskit.attempt.max": event.maxAttempts, "opskit.run.id": event.runId, "opskit.workflow": event.workflow, "opskit.attempt.targets": event.targets.join(",") };
        attempts.set(key, child(traceId, event.incidentId, { name: `attempt ${event.attempt}`, spanId: event.spanId ?? attemptSpanId(traceId, event.attempt), startTime: event.at, attributes }));
        return;
      }
      case "remediation.finished": {
        const key = `${event.incidentId}/${event.attempt}`;
        // An attempt that never started (rejected, not plannable) is a span of its own, still under its derived id.
        const span = attempts.get(key) ?? child(traceId, event.incidentId, { name: `attempt ${event.attempt}`, spanId: attemptSpanId(traceId, event.attempt), startTime: event.at - event.durationMs, attributes: { "opskit.rule": event.rule, "opskit.attempt": event.attempt } });
        attempts.delete(key);
        span.setAttributes({ "opskit.attempt.status": event.status, ...(event.detail ? { "opskit.attempt.detail": event.detail } : {}), ...(event.runId ? { "opskit.run.id": event.runId } : {}) });
        if (event.status !== "succeeded" && event.status !== "dry_run") span.fail(event.detail ?? event.status);
        span.end(event.at);
        return;
      }
      case "remediation.interrupted": {
        const key = `${event.incidentId}/${event.attempt}`;
        const open = attempts.get(key);
        attempts.delete(key);
        const why = `interrupted${event.replica ? ` (replica ${event.replica} is gone)` : ""}; ${event.onInterrupted}`;
        if (open) {
          open.setAttributes({ "opskit.attempt.status": "interrupted" });
          open.fail(why);
          open.end(event.at);
          return;
        }
        return instant(traceId, event.incidentId, "remediation.interrupted", event.at, { "opskit.rule": event.rule, "opskit.attempt": event.attempt, "opskit.on_interrupted": event.onInterrupted }, { error: why });
      }
      case "incident.escalated":
        // Its id is derived: the escalation run (started after the commit) names it as its parent.
        return instant(traceId, event.incidentId, "incident.escalated", event.at, { "opskit.escalation.reason": event.reason, "opskit.rule": event.rule }, { spanId: escalationSpanId(traceId) });
      case "escalation.skipped":
        return instant(traceId, event.incidentId, "escalation.skipped", event.at, { "opskit.escalation.reason": event.reason });
      case "escalation.finished":
        return instant(traceId, event.incidentId, "escalation.finished", event.at, { "opskit.rule": event.rule, "opskit.run.id": event.runId, "opskit.escalation.ok": event.ok, "opskit.escalation.detail": event.detail }, event.ok ? {} : { error: event.detail });
      case "incident.resolved": {
        const { milestones } = event;
        const start = Math.min(milestones.started ?? now, milestones.detected ?? now);
        const end = Math.max(milestones.resolved ?? now, start);
        const root = recorder.start({
          name: `incident ${event.incidentId}`,
          traceId,
          spanId: incidentSpanId(traceId),
          startTime: start,
          attributes: { "opskit.incident.id": event.incidentId, "opskit.incident.title": event.title, "opskit.incident.resolution": event.resolution, "opskit.incident.automated": milestones.remediated !== undefined },
        });
        for (const [milestone, at] of Object.entries(milestones).sort((a, b) => (a[1] ?? 0) - (b[1] ?? 0))) if (at !== undefined) root.addEvent(milestone, {}, at);
        root.end(end);
        traces.delete(event.incidentId);
        return;
      }
      case "heal.error":
        if (event.incidentId === undefined) return;
        return instant(traceId, event.incidentId, "heal.error", now, {}, { error: event.message });
      default:
        return;
    }
  };

  return (event) => {
    const now = Date.now();
    const incidentId = "incidentId" in event ? event.incidentId : undefined;
    // Not a span (the root reads milestones at resolution), so not worth a journal read either.
    if (incidentId === undefined || event.type === "incident.milestone" || (event.type === "alert.received" && event.outcome === "repeat")) return;
    const given = "traceId" in event ? event.traceId : undefined;
    if (given) remember(incidentId, given);
    const traceId = given ?? traces.get(incidentId);
    if (traceId) return apply(traceId, event, now);
    // Opened by another replica or before a restart: its trace id is in the journal. Events wait, in order, for the answer.
    if (!options.traceOf) return;
    const waiting = lookups.get(incidentId);
    if (waiting) return void waiting.push({ event, at: now });
    const pending: Pending = [{ event, at: now }];
    lookups.set(incidentId, pending);
    options.traceOf(incidentId).then(
      (found) => {
        lookups.delete(incidentId);
        if (!found) return;
        remember(incidentId, found);
        for (const { event, at } of pending) apply(found, event, at);
      },
      () => lookups.delete(incidentId),
    );
  };
}
