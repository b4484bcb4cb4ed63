import type { LoadedConfig } from "../config/index.ts";
import type { EventSink } from "../engine/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import type { AlertSourceKind, AttemptRecord, IncidentRecord, Journal } from "../journal/index.ts";
import { formatMs } from "../ui/index.ts";
import { parseAlertmanagerPayload, parseGenericPayload, type Alert } from "./alert.ts";
import type { HealSink } from "./events.ts";
import { activeAttemptStatuses, decide } from "./gates.ts";
import { NotificationIntake } from "./intake.ts";
import { applyAlert, recordGate, recordMilestone, resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { describeFailure } from "./remediate.ts";
import { alertOfIncident, ruleScope, type CompiledRule } from "./rules.ts";
import { Remediations } from "./remediations.ts";

export interface HealerOptions {
  loaded: LoadedConfig;
  journal: Journal;
  rules: CompiledRule[];
  /** Record what would run, run nothing. */
  dryRun: boolean;
  maxConcurrentRemediations: number;
  staleAfterMs: number;
  defaultTimeoutMs: number;
  emit: HealSink;
  /** Sinks for the remediation runs' own events (metrics), beside the journal. */
  runSinks?: EventSink[];
}

const PROCESS_BATCH = 200;

function notFound(id: number): OpsError {
  return new OpsError({ code: "E_NOT_FOUND", message: `no incident ${id}`, hint: "opskit incidents lists them", exitCode: ExitCode.usage });
}

/** Parses a stored notification back into its alerts. */
export function alertsOf(source: AlertSourceKind, body: string, receivedAt: number): Alert[] {
  const value = JSON.parse(body) as unknown;
  if (source === "alertmanager") return parseAlertmanagerPayload(value).alerts;
  return parseGenericPayload(value, receivedAt).map((alert) => ({ ...alert, source }));
}

/**
 * The self-healing core: alerts in, incidents and remediation runs out.
 * Every notification is journaled before it is acknowledged; processing and
 * remediation happen after, so a sender never waits on a runbook. Decisions
 * are synchronous against the journal, so two notifications for one
 * fingerprint can never both start a run.
 */
export class Healer {
  readonly intake: NotificationIntake;
  readonly #ctx: LifecycleContext;
  readonly #rules: Map<string, CompiledRule>;
  readonly #remediations: Remediations;
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();
  /** Alerts the webhook parsed already, by notification id, until processed. */
  readonly #parsed = new Map<number, Alert[]>();
  #processing: Promise<void> | undefined;
  #again = false;
  #stopping = false;
  #sweep: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: HealerOptions) {
    const emit: HealSink = (event) => {
      if (event.type === "incident.resolved") this.#remediations.resolved(event.incidentId);
      options.emit(event);
    };
    this.#ctx = { store: options.journal, rules: options.rules, emit };
    this.#rules = new Map(options.rules.map((r) => [r.name, r]));
    this.#remediations = new Remediations({
      loaded: options.loaded,
      journal: options.journal,
      ctx: this.#ctx,
      maxConcurrent: options.maxConcurrentRemediations,
      defaultTimeoutMs: options.defaultTimeoutMs,
      ...(options.runSinks ? { runSinks: options.runSinks } : {}),
      reconsider: (incidentId) => this.evaluate(incidentId),
    });
    this.intake = new NotificationIntake(options.journal, (batch) => {
      for (const { id, alerts } of batch) if (alerts) this.#parsed.set(id, alerts);
      this.#wake();
    });
  }

  get paused(): boolean {
    return this.options.journal.getSetting("paused") === "true";
  }

  get runningRemediations(): number {
    return this.#remediations.running;
  }

  /**
   * Recovers from whatever stopped the last server: runs it left "running"
   * are interrupted, their attempts decided by the rule's onInterrupted,
   * queued attempts start, unprocessed notifications are processed, and
   * every open incident that still owes work is reconsidered (see #owesWork).
   */
  async start(): Promise<void> {
    const store = this.options.journal;
    const now = Date.now();
    store.interruptRunningRuns();
    for (const attempt of store.attemptsIn(["running", "verifying"])) {
      store.updateAttempt(attempt.incidentId, attempt.attempt, { status: "interrupted", finishedAt: now, detail: "the server stopped during this attempt" });
      const rule = this.#rules.get(attempt.rule);
      const then = rule?.rule.onInterrupted === "escalate" ? "escalating (onInterrupted: escalate)" : "a new attempt may run (onInterrupted: retry)";
      store.addIncidentEvent(attempt.incidentId, { at: now, kind: "run", message: `attempt ${attempt.attempt} interrupted: the server stopped during it; ${then}` });
      const incident = store.getIncident(attempt.incidentId);
      if (incident && rule?.rule.onInterrupted === "escalate") this.#remediations.escalate(incident, rule, `escalated: attempt ${attempt.attempt} was interrupted by a restart`);
    }
    for (const attempt of store.attemptsIn(["queued"])) {
      const rule = this.#rules.get(attempt.rule);
      if (rule) this.#remediations.launch(attempt.incidentId, rule, attempt.attempt);
    }
    await this.processPending();
    for (const incident of store.listIncidents({ status: "open", limit: 100_000 })) if (incident.rule && this.#owesWork(incident.id)) this.evaluate(incident.id);
    const every = Math.max(1000, Math.min(this.options.staleAfterMs / 4, 60_000));
    this.#sweep = setInterval(() => this.#closeStale(), every);
  }

  /**
   * Whether an open incident still owes a decision after a restart: one with
   * no attempt yet (held by a gate whose timer died with the last server), a
   * failed or interrupted attempt (the retry the gates promised). An attempt
   * that succeeded (or a dry run recorded) owes nothing: without a restart
   * nothing would run until the next notification, so nothing runs after one.
   */
  #owesWork(incidentId: number): boolean {
    const last = this.options.journal.attempts(incidentId).at(-1);
    return last === undefined || (last.status !== "succeeded" && last.status !== "dry_run");
  }

  /** Journals a notification (and the alerts the caller parsed from it); resolves once it is durable. */
  accept(source: AlertSourceKind, body: string, alerts?: Alert[]): Promise<number> {
    if (this.#stopping) return Promise.reject(new OpsError({ code: "E_STOPPING", message: "the server is shutting down", exitCode: ExitCode.interrupted }));
    return this.intake.accept(source, body, alerts);
  }

  /** Journals an alert raised by a check, through the same path as a webhook's. */
  acceptCheckAlert(alert: Alert): Promise<number> {
    const body = {
      fingerprint: alert.fingerprint,
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: new Date(alert.startsAt).toISOString(),
      ...(alert.endsAt !== undefined ? { endsAt: new Date(alert.endsAt).toISOString() } : {}),
    };
    return this.accept("check", JSON.stringify(body), [alert]);
  }

  #wake(): void {
    if (this.#processing) {
      this.#again = true;
      return;
    }
    this.#processing = this.#processLoop()
      .catch((error) => console.error(`opskit serve: processing notifications: ${describeFailure(error)}`))
      .finally(() => {
        this.#processing = undefined;
      });
  }

  /** Processes every committed, unprocessed notification; resolves when none is left. */
  async processPending(): Promise<void> {
    this.#wake();
    while (this.#processing) await this.#processing;
  }

  async #processLoop(): Promise<void> {
    const store = this.options.journal;
    do {
      this.#again = false;
      for (;;) {
        const batch = store.pendingNotifications(PROCESS_BATCH);
        if (batch.length === 0) break;
        const evaluate = new Set<number>();
        store.transaction(() => {
          for (const notification of batch) {
            try {
              // A savepoint per notification: one that cannot be applied (a body an
              // older version accepted, a bug) is kept as received and skipped whole.
              store.transaction(() => {
                const parsed = this.#parsed.get(notification.id);
                this.#parsed.delete(notification.id);
                for (const alert of parsed ?? alertsOf(notification.source, notification.body, notification.receivedAt)) {
                  const id = applyAlert(this.#ctx, alert, notification.receivedAt);
                  if (id !== undefined) evaluate.add(id);
                }
              });
            } catch (error) {
              console.error(`opskit serve: notification ${notification.id} not applied: ${describeFailure(error)}`);
            }
          }
          store.markNotificationsProcessed(batch.map((n) => n.id));
          // The gates' decisions (and the attempts they create) commit with the batch: one flush, not one per incident.
          for (const id of evaluate) this.evaluate(id);
        });
        this.#ctx.emit({ type: "notifications.processed", count: batch.length, lagMs: Date.now() - batch[0]!.receivedAt });
        // Let requests in between batches: processing must not starve the webhook.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } while (this.#again);
  }

  #gate(incident: IncidentRecord, rule: CompiledRule, gate: string, reason: string): void {
    // A wait already on the timeline (with its timer set) is not re-recorded on every repeat notification.
    if ((gate === "cooldown" || gate === "rateLimit") && this.#timers.has(incident.id)) return;
    recordGate(this.#ctx, incident, rule.name, gate, reason);
  }

  #retryAt(incidentId: number, at: number): void {
    if (this.#timers.has(incidentId) || this.#stopping) return;
    const timer = setTimeout(() => {
      this.#timers.delete(incidentId);
      this.evaluate(incidentId);
    }, Math.max(0, at - Date.now()) + 5);
    this.#timers.set(incidentId, timer);
  }

  /**
   * Decides, through every safety gate, whether the incident's rule runs now,
   * and records the decision with its reason. Synchronous on purpose: the
   * decision and the attempt it creates cannot interleave with another.
   */
  evaluate(incidentId: number): void {
    if (this.#stopping) return;
    try {
      this.#evaluate(incidentId);
    } catch (error) {
      console.error(`opskit serve: incident ${incidentId}: ${describeFailure(error)}`);
    }
  }

  #evaluate(incidentId: number): void {
    // Decisions that cannot change until something else happens are kept in
    // memory: a repeat notification then costs no reads (an alert storm is
    // mostly repeats). A wait's timer re-evaluates when it ends.
    if (this.#timers.has(incidentId)) return;
    const store = this.options.journal;
    const incident = store.getIncident(incidentId);
    if (!incident || incident.status !== "open" || !incident.rule || incident.escalated) return;
    const active = this.#remediations.active(incidentId);
    if (active) {
      this.#gate(incident, this.#rules.get(incident.rule)!, "dedupe", `deduplicated: attempt ${active.attempt} is ${active.status}`);
      return;
    }
    const rule = this.#rules.get(incident.rule);
    if (!rule) {
      store.addIncidentEvent(incidentId, { at: Date.now(), kind: "note", message: `rule ${incident.rule} is no longer in the config: nothing runs` });
      return;
    }
    const now = Date.now();
    const attempts = store.attempts(incidentId);
    const decision = decide({
      now,
      paused: this.paused,
      dryRun: this.options.dryRun,
      ruleName: rule.name,
      ruleState: store.getRuleState(rule.name),
      attempts,
      maxAttempts: rule.rule.maxAttempts,
      approval: rule.rule.approval,
      lastStart: store.lastAttemptStart(incident.fingerprint),
      cooldownMs: rule.cooldownMs,
      ...(rule.rateLimit ? { rateLimit: { ...rule.rateLimit, used: store.countRuleAttemptsSince(rule.name, now - rule.rateLimit.perMs) } } : {}),
    });
    const next = Math.max(0, ...attempts.map((a) => a.attempt)) + 1;
    switch (decision.action) {
      case "hold":
        this.#gate(incident, rule, decision.gate, decision.reason);
        if (decision.retryAt !== undefined) this.#retryAt(incidentId, decision.retryAt);
        return;
      case "escalate":
        this.#remediations.escalate(incident, rule, decision.reason);
        return;
      case "dry_run": {
        const detail = this.#describePlan(incident, rule);
        store.createAttempt({ incidentId, attempt: next, rule: rule.name, fingerprint: incident.fingerprint, status: "dry_run", createdAt: now, detail });
        this.#gate(incident, rule, "dryRun", `dry-run: would run ${detail}`);
        return;
      }
      case "await_approval":
        store.createAttempt({ incidentId, attempt: next, rule: rule.name, fingerprint: incident.fingerprint, status: "awaiting_approval", createdAt: now });
        this.#gate(incident, rule, "approval", `waiting: approval required for attempt ${next} (opskit incidents approve ${incidentId})`);
        return;
      case "run":
        store.createAttempt({ incidentId, attempt: next, rule: rule.name, fingerprint: incident.fingerprint, status: "queued", createdAt: now });
        this.#remediations.launch(incidentId, rule, next);
    }
  }

  #describePlan(incident: IncidentRecord, rule: CompiledRule): string {
    try {
      const scope = ruleScope(alertOfIncident(incident), incident);
      const narrowing = rule.targets?.render(scope, "selector");
      const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
      const workflow = this.options.loaded.config.workflows[rule.rule.run]!;
      return `workflow ${rule.rule.run} on ${JSON.stringify(workflow.targets)}${narrowing ? ` narrowed to ${JSON.stringify(narrowing)}` : ""} with vars ${JSON.stringify(vars)}`;
    } catch (error) {
      return `workflow ${rule.rule.run} (its templates fail: ${describeFailure(error)})`;
    }
  }

  /** `opskit incidents approve`: the attempt waiting for approval starts. */
  approve(incidentId: number): AttemptRecord {
    const store = this.options.journal;
    const incident = store.getIncident(incidentId);
    if (!incident) throw notFound(incidentId);
    const waiting = store.attempts(incidentId).find((a) => a.status === "awaiting_approval");
    if (!waiting) {
      throw new OpsError({ code: "E_NOTHING_TO_APPROVE", message: `incident ${incidentId} has no remediation waiting for approval`, hint: `opskit incidents show ${incidentId} shows its timeline`, exitCode: ExitCode.usage });
    }
    store.updateAttempt(incidentId, waiting.attempt, { status: "queued" });
    store.addIncidentEvent(incidentId, { at: Date.now(), kind: "gate", message: `approved: attempt ${waiting.attempt}` });
    this.#remediations.launch(incidentId, this.#rules.get(waiting.rule)!, waiting.attempt);
    return { ...waiting, status: "queued" };
  }

  acknowledge(incidentId: number, by: string): IncidentRecord {
    const store = this.options.journal;
    const incident = store.getIncident(incidentId);
    if (!incident) throw notFound(incidentId);
    // An acknowledgement after the end would put a milestone past resolved and skew time-to-acknowledge.
    if (incident.status === "resolved") {
      throw new OpsError({
        code: "E_INCIDENT_RESOLVED",
        message: `incident ${incidentId} is already resolved${incident.resolution ? ` (${incident.resolution})` : ""}: there is nothing to acknowledge`,
        hint: `opskit incidents show ${incidentId} shows how it ended; if the problem is back, a new alert opens a new incident`,
        exitCode: ExitCode.usage,
      });
    }
    recordMilestone(this.#ctx, incidentId, "acknowledged", Date.now(), `by ${by}`);
    return store.getIncident(incidentId)!;
  }

  resolveByHand(incidentId: number, by: string, note?: string): IncidentRecord {
    const store = this.options.journal;
    const incident = store.getIncident(incidentId);
    if (!incident) throw notFound(incidentId);
    resolveIncident(this.#ctx, incident, Date.now(), `resolved by hand (${by})${note ? `: ${note}` : ""}`);
    for (const attempt of store.attempts(incidentId).filter((a) => a.status === "awaiting_approval")) {
      store.updateAttempt(incidentId, attempt.attempt, { status: "rejected", finishedAt: Date.now(), detail: "the incident was resolved by hand" });
    }
    return store.getIncident(incidentId)!;
  }

  /** The global kill switch; it survives restarts. */
  setPaused(paused: boolean): void {
    this.options.journal.putSetting("paused", paused ? "true" : undefined);
    if (!paused) for (const incident of this.options.journal.listIncidents({ status: "open", limit: 100_000 })) if (incident.rule) this.evaluate(incident.id);
  }

  #closeStale(): void {
    const store = this.options.journal;
    const now = Date.now();
    for (const incident of store.listIncidents({ status: "open", limit: 100_000 })) {
      if (now - incident.lastNotifiedAt < this.options.staleAfterMs) continue;
      if (store.attempts(incident.id).some((a) => activeAttemptStatuses.includes(a.status))) continue;
      resolveIncident(this.#ctx, incident, now, `stale: no notification for ${formatMs(this.options.staleAfterMs)}`);
    }
  }

  /**
   * SIGTERM: accept nothing new, process what was accepted, let in-flight
   * runs finish within the grace period, then cancel them (they are recorded
   * as interrupted and the rule decides after the restart).
   */
  async drain(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    this.#stopping = true;
    clearInterval(this.#sweep);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    while (this.#processing) await this.#processing;
    return this.#remediations.drain(graceMs);
  }
}
