import type { AttemptRecord, IncidentRecord, IncidentStore, Milestone } from "../journal/index.ts";
import { fanOut, newTraceId, type Sink } from "../observe/index.ts";
import type { Alert } from "./alert.ts";
import type { HealEvent } from "./events.ts";
import { decideRule, type CompiledRule, type QueryAnswer } from "./rules.ts";
import { timelineSink } from "./timeline.ts";

/**
 * What a decision works with: the store it reads and writes (the journal, or
 * the transaction under way) and where its events go. State that later
 * decisions read (incidents, milestones, attempts) is written to `store`
 * first; the timeline is one of the sinks of `emit`, which resolves once the
 * event's line is written through that same store.
 */
export interface LifecycleContext {
  store: IncidentStore;
  rules: readonly CompiledRule[];
  /** What the rules' queries answered for the alerts being applied (rule-queries.ts), by answerKey. */
  answers?(): ReadonlyMap<string, QueryAnswer>;
  emit(event: HealEvent): Promise<void>;
}

/** A context over `store` whose events go to the incident timeline (through `store`) and then to `sinks`. */
export function lifecycleContext(store: IncidentStore, rules: readonly CompiledRule[], sinks: readonly Sink<HealEvent>[], answers?: () => ReadonlyMap<string, QueryAnswer>): LifecycleContext {
  const timeline = timelineSink(store);
  const fan = fanOut([timeline.sink, ...sinks]);
  return {
    store,
    rules,
    ...(answers ? { answers } : {}),
    emit(event) {
      fan(event);
      return timeline.written();
    },
  };
}

/** Sets a milestone once (the first occurrence wins) and reports it. */
export async function recordMilestone(ctx: LifecycleContext, incidentId: number, milestone: Milestone, at: number, note?: string): Promise<void> {
  if (!(await ctx.store.setMilestone(incidentId, milestone, at))) return;
  await ctx.emit({ type: "incident.milestone", incidentId, milestone, at, ...(note ? { note } : {}) });
}

/** Closes an incident: resolved milestone, how it closed, whether automation did it. */
export async function resolveIncident(ctx: LifecycleContext, incident: IncidentRecord, at: number, resolution: string): Promise<void> {
  if (incident.status !== "open") return;
  await recordMilestone(ctx, incident.id, "resolved", at, resolution);
  const current = (await ctx.store.getIncident(incident.id))!;
  const automated = current.milestones.remediated !== undefined;
  await ctx.store.updateIncident(incident.id, { status: "resolved", resolution, automated });
  await ctx.emit({ type: "incident.resolved", incidentId: incident.id, title: incident.title, resolution, milestones: current.milestones, ...(incident.traceId ? { traceId: incident.traceId } : {}) });
}

type Outcome = Extract<HealEvent, { type: "alert.received" }>["outcome"];

/**
 * Applies one alert to the incidents, by its own fingerprint. Handles repeats
 * and duplicates (at-least-once delivery, an HA pair of Alertmanagers), a
 * resolve with no firing before it, and a firing that arrives after its own
 * resolve (out of order). Returns the incident whose remediation should be
 * (re)considered, if any. Runs inside the caller's transaction.
 */
export async function applyAlert(ctx: LifecycleContext, alert: Alert, receivedAt: number): Promise<number | undefined> {
  const alertname = alert.labels.alertname ?? alert.labels.check ?? "alert";
  const received = (outcome: Outcome, incidentId?: number) =>
    ctx.emit({ type: "alert.received", source: alert.source, fingerprint: alert.fingerprint, status: alert.status, alertname, outcome, receivedAt, ...(incidentId !== undefined ? { incidentId } : {}) });
  return alert.status === "firing" ? applyFiring(ctx, alert, receivedAt, alertname, received) : applyResolved(ctx, alert, receivedAt, received);
}

type Received = (outcome: Outcome, incidentId?: number) => Promise<void>;

async function applyFiring(ctx: LifecycleContext, alert: Alert, receivedAt: number, alertname: string, received: Received): Promise<number | undefined> {
  const { store } = ctx;
  const state = await store.getAlertState(alert.fingerprint);
  // The same episode (same startsAt) already resolved: this firing is late.
  if (state?.status === "resolved" && state.startsAt === alert.startsAt) {
    await received("stale", state.incidentId);
    return undefined;
  }
  const found = await store.findOpenIncident(alert.fingerprint);
  const open = found ? { repeat: true as const, incident: found } : await openIncident(ctx, alert, receivedAt, alertname);
  if ("repeat" in open) {
    // Repeats are counted on the incident, not written on its timeline: a storm would bury it.
    const { incident } = open;
    await store.updateIncident(incident.id, { notifications: incident.notifications + 1, lastNotifiedAt: receivedAt });
    await store.putAlertState({ fingerprint: alert.fingerprint, status: "firing", startsAt: alert.startsAt, incidentId: incident.id, updatedAt: receivedAt });
    await received("repeat", incident.id);
    return incident.rule ? incident.id : undefined;
  }
  const { incident, rule } = open;
  await store.putAlertState({ fingerprint: alert.fingerprint, status: "firing", startsAt: alert.startsAt, incidentId: incident.id, updatedAt: receivedAt });
  await received("opened", incident.id);
  return rule ? incident.id : undefined;
}

/**
 * Opens the incident for a firing alert, or finds the one a concurrent
 * notification for the same fingerprint opened first: the journal keeps at
 * most one open incident per fingerprint (a unique key), and the loser of
 * that race counts as a repeat. The refusal (E_INCIDENT_OPEN) leaves the
 * transaction whole (the journal contract), so no savepoint is needed: a
 * batch that opened a thousand incidents took a thousand, past the 64
 * PostgreSQL keeps in memory per transaction.
 */
async function openIncident(ctx: LifecycleContext, alert: Alert, receivedAt: number, alertname: string): Promise<{ repeat: true; incident: IncidentRecord } | { incident: IncidentRecord; rule?: CompiledRule }> {
  const { store } = ctx;
  const { rule, notes } = decideRule(ctx.rules, alert, ctx.answers?.());
  let incident: IncidentRecord;
  // Assigned here, where the incident is made, and kept with it: every replica's spans for it join this trace.
  const traceId = newTraceId();
  try {
    incident = await store.openIncident({
      fingerprint: alert.fingerprint,
      title: alertname,
      source: alert.source,
      labels: alert.labels,
      annotations: alert.annotations,
      ...(rule ? { rule: rule.name } : {}),
      milestones: {},
      lastNotifiedAt: receivedAt,
      traceId,
    });
  } catch (error) {
    if ((error as { code?: unknown }).code !== "E_INCIDENT_OPEN") throw error;
    const winner = await store.findOpenIncident(alert.fingerprint);
    if (!winner) throw error;
    return { repeat: true, incident: winner };
  }
  // A notification can reach us before its own startsAt on a skewed clock; started is never after detected.
  const started = Math.min(alert.startsAt, receivedAt);
  await ctx.emit({ type: "incident.opened", incidentId: incident.id, title: alertname, fingerprint: alert.fingerprint, labels: alert.labels, source: alert.source, receivedAt, traceId, ...(rule ? { rule: rule.name } : {}) });
  await recordMilestone(ctx, incident.id, "started", started);
  await recordMilestone(ctx, incident.id, "detected", receivedAt);
  for (const note of notes) await ctx.emit({ type: "rule.query", incidentId: incident.id, ...note, at: receivedAt });
  if (!rule) await ctx.emit({ type: "incident.unmatched", incidentId: incident.id, at: receivedAt });
  return { incident, ...(rule ? { rule } : {}) };
}

async function applyResolved(ctx: LifecycleContext, alert: Alert, receivedAt: number, received: Received): Promise<number | undefined> {
  const { store } = ctx;
  const state = await store.getAlertState(alert.fingerprint);
  const open = await store.findOpenIncident(alert.fingerprint);
  const endsAt = alert.endsAt !== undefined && alert.endsAt <= receivedAt ? alert.endsAt : receivedAt;
  if (!open || (open.milestones.started !== undefined && alert.startsAt < open.milestones.started && state?.startsAt !== alert.startsAt)) {
    // Nothing open for it (or only a newer episode): accepted and remembered, so
    // that a firing of the same episode delivered late is recognised.
    const duplicate = state?.status === "resolved" && state.startsAt === alert.startsAt;
    if (!open) await store.putAlertState({ fingerprint: alert.fingerprint, status: "resolved", startsAt: alert.startsAt, endsAt, ...(state?.incidentId !== undefined && duplicate ? { incidentId: state.incidentId } : {}), updatedAt: receivedAt });
    await received(duplicate ? "repeat" : "orphan", duplicate ? state.incidentId : undefined);
    return undefined;
  }
  await store.updateIncident(open.id, { notifications: open.notifications + 1, lastNotifiedAt: receivedAt });
  await received("resolved", open.id);
  // An attempt waiting for exactly this is verified by it.
  const verifying = (await store.attempts(open.id)).find((a) => a.status === "verifying");
  if (verifying) await recordMilestone(ctx, open.id, "verified", endsAt, "the alert resolved");
  await resolveIncident(ctx, open, endsAt, "alert resolved");
  await store.putAlertState({ fingerprint: alert.fingerprint, status: "resolved", startsAt: alert.startsAt, endsAt, incidentId: open.id, updatedAt: receivedAt });
  return verifying ? open.id : undefined;
}

/**
 * Creates attempt N of an incident, or reports that a concurrent decision
 * created it first. The journal's (incident, attempt) key is the dedupe
 * guarantee: two decisions that read the same attempts (a repeat
 * notification, a cooldown's timer, a failure reconsidered) pick the same N,
 * and only one of them can create it. Losing (E_ATTEMPT_EXISTS) leaves the
 * transaction whole (the journal contract): no savepoint.
 */
export async function createAttempt(store: IncidentStore, attempt: AttemptRecord): Promise<boolean> {
  try {
    await store.createAttempt(attempt);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "E_ATTEMPT_EXISTS") return false;
    throw error;
  }
}
