import type { IncidentRecord, IncidentStore, Milestone } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { HealSink } from "./events.ts";
import { matchRule, type CompiledRule } from "./rules.ts";

export interface LifecycleContext {
  store: IncidentStore;
  rules: readonly CompiledRule[];
  emit: HealSink;
}

/** Sets a milestone once (the first occurrence wins) and puts it on the timeline. */
export function recordMilestone(ctx: LifecycleContext, incidentId: number, milestone: Milestone, at: number, note?: string): void {
  if (!ctx.store.setMilestone(incidentId, milestone, at)) return;
  ctx.store.addIncidentEvent(incidentId, { at, kind: "milestone", message: note ? `${milestone}: ${note}` : milestone });
  ctx.emit({ type: "incident.milestone", incidentId, milestone, at });
}

/** Puts a gate decision on the incident's timeline (identical repeats fold) and reports it. */
export function recordGate(ctx: LifecycleContext, incident: IncidentRecord, rule: string, gate: string, reason: string): void {
  ctx.store.addIncidentEvent(incident.id, { at: Date.now(), kind: "gate", message: reason, data: { gate, rule } });
  ctx.emit({ type: "incident.gate", incidentId: incident.id, rule, gate, reason });
}

/** Closes an incident: resolved milestone, how it closed, whether automation did it. */
export function resolveIncident(ctx: LifecycleContext, incident: IncidentRecord, at: number, resolution: string): void {
  if (incident.status !== "open") return;
  recordMilestone(ctx, incident.id, "resolved", at, resolution);
  const current = ctx.store.getIncident(incident.id)!;
  const automated = current.milestones.remediated !== undefined;
  ctx.store.updateIncident(incident.id, { status: "resolved", resolution, automated });
  ctx.emit({ type: "incident.resolved", incidentId: incident.id, title: incident.title, resolution, milestones: current.milestones });
}

function describeLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .filter(([name]) => name !== "alertname")
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(", ");
}

/**
 * Applies one alert to the incidents, by its own fingerprint. Handles repeats
 * and duplicates (at-least-once delivery, an HA pair of Alertmanagers), a
 * resolve with no firing before it, and a firing that arrives after its own
 * resolve (out of order). Returns the incident whose remediation should be
 * (re)considered, if any. Runs inside the caller's transaction.
 */
export function applyAlert(ctx: LifecycleContext, alert: Alert, receivedAt: number): number | undefined {
  const { store } = ctx;
  const state = store.getAlertState(alert.fingerprint);
  const alertname = alert.labels.alertname ?? alert.labels.check ?? "alert";
  const received = (outcome: "opened" | "repeat" | "resolved" | "stale" | "orphan", incidentId?: number) =>
    ctx.emit({ type: "alert.received", source: alert.source, fingerprint: alert.fingerprint, status: alert.status, alertname, outcome, ...(incidentId !== undefined ? { incidentId } : {}) });

  if (alert.status === "firing") {
    // The same episode (same startsAt) already resolved: this firing is late.
    if (state?.status === "resolved" && state.startsAt === alert.startsAt) {
      if (state.incidentId !== undefined) store.addIncidentEvent(state.incidentId, { at: receivedAt, kind: "alert", message: "ignored: firing notification delivered after its resolve (out of order)" });
      received("stale", state.incidentId);
      return undefined;
    }
    const open = store.findOpenIncident(alert.fingerprint);
    if (open) {
      // Repeats are counted on the incident, not written on its timeline: a storm would bury it.
      store.updateIncident(open.id, { notifications: open.notifications + 1, lastNotifiedAt: receivedAt });
      store.putAlertState({ fingerprint: alert.fingerprint, status: "firing", startsAt: alert.startsAt, incidentId: open.id, updatedAt: receivedAt });
      received("repeat", open.id);
      return open.rule ? open.id : undefined;
    }
    const rule = matchRule(ctx.rules, alert);
    // A notification can reach us before its own startsAt on a skewed clock; started is never after detected.
    const started = Math.min(alert.startsAt, receivedAt);
    const incident = store.openIncident({
      fingerprint: alert.fingerprint,
      title: alertname,
      source: alert.source,
      labels: alert.labels,
      annotations: alert.annotations,
      ...(rule ? { rule: rule.name } : {}),
      milestones: {},
      lastNotifiedAt: receivedAt,
    });
    store.addIncidentEvent(incident.id, { at: receivedAt, kind: "alert", message: `firing: ${alertname}${describeLabels(alert.labels) ? ` {${describeLabels(alert.labels)}}` : ""} (${alert.source})` });
    ctx.emit({ type: "incident.opened", incidentId: incident.id, title: alertname, fingerprint: alert.fingerprint, labels: alert.labels, ...(rule ? { rule: rule.name } : {}) });
    recordMilestone(ctx, incident.id, "started", started);
    recordMilestone(ctx, incident.id, "detected", receivedAt);
    if (!rule) store.addIncidentEvent(incident.id, { at: receivedAt, kind: "note", message: "no rule matches this alert: it waits for a person (opskit incidents ack)" });
    store.putAlertState({ fingerprint: alert.fingerprint, status: "firing", startsAt: alert.startsAt, incidentId: incident.id, updatedAt: receivedAt });
    received("opened", incident.id);
    return rule ? incident.id : undefined;
  }

  // Resolved.
  const open = store.findOpenIncident(alert.fingerprint);
  const endsAt = alert.endsAt !== undefined && alert.endsAt <= receivedAt ? alert.endsAt : receivedAt;
  if (!open || (open.milestones.started !== undefined && alert.startsAt < open.milestones.started && state?.startsAt !== alert.startsAt)) {
    // Nothing open for it (or only a newer episode): accepted and remembered, so
    // that a firing of the same episode delivered late is recognised.
    const duplicate = state?.status === "resolved" && state.startsAt === alert.startsAt;
    if (duplicate && state.incidentId !== undefined) store.addIncidentEvent(state.incidentId, { at: receivedAt, kind: "alert", message: "resolved notification repeated" });
    if (!open) store.putAlertState({ fingerprint: alert.fingerprint, status: "resolved", startsAt: alert.startsAt, endsAt, ...(state?.incidentId !== undefined && duplicate ? { incidentId: state.incidentId } : {}), updatedAt: receivedAt });
    received(duplicate ? "repeat" : "orphan", duplicate ? state.incidentId : undefined);
    return undefined;
  }
  store.updateIncident(open.id, { notifications: open.notifications + 1, lastNotifiedAt: receivedAt });
  store.addIncidentEvent(open.id, { at: receivedAt, kind: "alert", message: `resolved (${alert.source})` });
  // An attempt waiting for exactly this is verified by it.
  const verifying = store.attempts(open.id).find((a) => a.status === "verifying");
  if (verifying) recordMilestone(ctx, open.id, "verified", endsAt, "the alert resolved");
  resolveIncident(ctx, open, endsAt, "alert resolved");
  store.putAlertState({ fingerprint: alert.fingerprint, status: "resolved", startsAt: alert.startsAt, endsAt, incidentId: open.id, updatedAt: receivedAt });
  received("resolved", open.id);
  return verifying ? open.id : undefined;
}
