import type { LoadedConfig } from "../config/index.ts";
import type { EventSink } from "../engine/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import type { AlertSourceKind, AttemptRecord, IncidentRecord, Journal } from "../journal/index.ts";
import { formatMs } from "../ui/index.ts";
import { parseAlertmanagerPayload, parseGenericPayload, type Alert } from "./alert.ts";
import type { HealSink } from "./events.ts";
import { activeAttemptStatuses, countedAttempts, decide } from "./gates.ts";
import { NotificationIntake } from "./intake.ts";
import { applyAlert, recordMilestone, resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { describeFailure, escalationRun, executeWorkflowRun, planWorkflowRun, verifyByProbe } from "./remediate.ts";
import { ruleScope, type CompiledRule } from "./rules.ts";
import { Slots } from "./slots.ts";

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
  readonly #slots: Slots;
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #running = new Set<{ controller: AbortController; task: Promise<void> }>();
  readonly #resolvedWaiters = new Map<number, Set<() => void>>();
  #processing: Promise<void> | undefined;
  #again = false;
  #stopping = false;
  #sweep: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: HealerOptions) {
    const emit: HealSink = (event) => {
      if (event.type === "incident.resolved") for (const wake of this.#resolvedWaiters.get(event.incidentId) ?? []) wake();
      options.emit(event);
    };
    this.#ctx = { store: options.journal, rules: options.rules, emit };
    this.#rules = new Map(options.rules.map((r) => [r.name, r]));
    this.#slots = new Slots(options.maxConcurrentRemediations);
    this.intake = new NotificationIntake(options.journal, () => this.#wake());
  }

  get paused(): boolean {
    return this.options.journal.getSetting("paused") === "true";
  }

  get runningRemediations(): number {
    return this.#slots.inUse;
  }

  /**
   * Recovers from whatever stopped the last server: runs it left "running"
   * are interrupted, their attempts decided by the rule's onInterrupted,
   * queued attempts start, unprocessed notifications are processed, and
   * every open incident is reconsidered.
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
      if (incident && rule?.rule.onInterrupted === "escalate") this.#escalate(incident, rule, `escalated: attempt ${attempt.attempt} was interrupted by a restart`);
    }
    for (const attempt of store.attemptsIn(["queued"])) {
      const rule = this.#rules.get(attempt.rule);
      if (rule) this.#launch(attempt.incidentId, rule, attempt.attempt);
    }
    await this.processPending();
    for (const incident of store.listIncidents({ status: "open", limit: 100_000 })) if (incident.rule) this.evaluate(incident.id);
    const every = Math.max(1000, Math.min(this.options.staleAfterMs / 4, 60_000));
    this.#sweep = setInterval(() => this.#closeStale(), every);
  }

  /** Journals a notification; resolves once it is durable. */
  accept(source: AlertSourceKind, body: string): Promise<number> {
    if (this.#stopping) return Promise.reject(new OpsError({ code: "E_STOPPING", message: "the server is shutting down", exitCode: ExitCode.interrupted }));
    return this.intake.accept(source, body);
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
    return this.accept("check", JSON.stringify(body));
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
                for (const alert of alertsOf(notification.source, notification.body, notification.receivedAt)) {
                  const id = applyAlert(this.#ctx, alert, notification.receivedAt);
                  if (id !== undefined) evaluate.add(id);
                }
              });
            } catch (error) {
              console.error(`opskit serve: notification ${notification.id} not applied: ${describeFailure(error)}`);
            }
          }
          store.markNotificationsProcessed(batch.map((n) => n.id));
        });
        this.#ctx.emit({ type: "notifications.processed", count: batch.length, lagMs: Date.now() - batch[0]!.receivedAt });
        for (const id of evaluate) this.evaluate(id);
        // Let requests in between batches: processing must not starve the webhook.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } while (this.#again);
  }

  #gate(incident: IncidentRecord, rule: CompiledRule, gate: string, reason: string): void {
    // A wait already on the timeline (with its timer set) is not re-recorded on every repeat notification.
    if ((gate === "cooldown" || gate === "rateLimit") && this.#timers.has(incident.id)) return;
    this.options.journal.addIncidentEvent(incident.id, { at: Date.now(), kind: "gate", message: reason, data: { gate, rule: rule.name } });
    this.#ctx.emit({ type: "incident.gate", incidentId: incident.id, rule: rule.name, gate, reason });
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
    const store = this.options.journal;
    const incident = store.getIncident(incidentId);
    if (!incident || incident.status !== "open" || !incident.rule) return;
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
        this.#escalate(incident, rule, decision.reason);
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
        this.#launch(incidentId, rule, next);
    }
  }

  #describePlan(incident: IncidentRecord, rule: CompiledRule): string {
    try {
      const scope = ruleScope(alertOfIncident(incident), incident);
      const narrowing = rule.targets?.render(scope, "raw");
      const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
      const workflow = this.options.loaded.config.workflows[rule.rule.run]!;
      return `workflow ${rule.rule.run} on ${JSON.stringify(workflow.targets)}${narrowing ? ` narrowed to ${JSON.stringify(narrowing)}` : ""} with vars ${JSON.stringify(vars)}`;
    } catch (error) {
      return `workflow ${rule.rule.run} (its templates fail: ${describeFailure(error)})`;
    }
  }

  #track(work: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    const entry = { controller, task: Promise.resolve() };
    entry.task = work(controller.signal)
      .catch((error) => console.error(`opskit serve: ${describeFailure(error)}`))
      .finally(() => this.#running.delete(entry));
    this.#running.add(entry);
  }

  /** Runs attempt N of an incident's remediation: waits for a slot, runs the workflow, verifies. */
  #launch(incidentId: number, rule: CompiledRule, attempt: number): void {
    this.#track(async (signal) => {
      const store = this.options.journal;
      const incident0 = store.getIncident(incidentId)!;
      if (!this.#slots.tryAcquire()) {
        this.#gate(incident0, rule, "concurrency", `queued: ${this.#slots.inUse} remediations running (server.maxConcurrentRemediations ${this.#slots.size})`);
        try {
          await this.#slots.acquire(signal);
        } catch {
          return; // stopping: the attempt stays queued and starts after the restart
        }
      }
      try {
        await this.#remediate(incidentId, rule, attempt, signal);
      } finally {
        this.#slots.release();
      }
    });
  }

  async #remediate(incidentId: number, rule: CompiledRule, attempt: number, signal: AbortSignal): Promise<void> {
    const store = this.options.journal;
    const incident = store.getIncident(incidentId)!;
    if (incident.status !== "open") {
      store.updateAttempt(incidentId, attempt, { status: "rejected", finishedAt: Date.now(), detail: `the incident was ${incident.resolution ?? "resolved"} before the run started` });
      return;
    }
    const scope = ruleScope(alertOfIncident(incident), incident);
    let plan;
    try {
      const narrowing = rule.targets?.render(scope, "raw");
      const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
      plan = await planWorkflowRun(this.options.loaded, rule.rule.run, narrowing, vars, `rule ${rule.name}`);
    } catch (error) {
      store.updateAttempt(incidentId, attempt, { status: "running", startedAt: Date.now() });
      this.#failed(incidentId, rule, attempt, `could not plan the run: ${describeFailure(error)}`);
      return;
    }
    const startedAt = Date.now();
    const targets = plan.targets.map((t) => t.name);
    store.transaction(() => {
      store.updateAttempt(incidentId, attempt, { status: "running", runId: plan.runId, startedAt });
      store.updateIncident(incidentId, { attempts: countedAttempts(store.attempts(incidentId)) });
      recordMilestone(this.#ctx, incidentId, "remediation_started", startedAt);
      store.addIncidentEvent(incidentId, {
        at: startedAt,
        kind: "run",
        message: `remediation started: attempt ${attempt} of ${rule.rule.maxAttempts}, workflow ${rule.rule.run} on ${targets.join(", ")} (run ${plan.runId})`,
        data: { runId: plan.runId, attempt },
      });
    });
    this.#ctx.emit({ type: "remediation.started", incidentId, rule: rule.name, attempt, runId: plan.runId, workflow: rule.rule.run, targets });
    let result: { ok: boolean; detail: string };
    try {
      result = await executeWorkflowRun(plan, rule.workflow, { loaded: this.options.loaded, journal: store, defaultTimeoutMs: this.options.defaultTimeoutMs, trigger: { incident: incidentId, attempt, rule: rule.name }, signal, ...(this.options.runSinks ? { sinks: this.options.runSinks } : {}) }, "remediation");
    } catch (error) {
      result = { ok: false, detail: describeFailure(error) };
    }
    if (signal.aborted) {
      this.#finishAttempt(incidentId, rule, attempt, "interrupted", startedAt, `cancelled: the server stopped (${result.detail})`);
      return;
    }
    if (!result.ok) {
      this.#failed(incidentId, rule, attempt, result.detail, plan.runId);
      return;
    }
    const remediatedAt = Date.now();
    recordMilestone(this.#ctx, incidentId, "remediated", remediatedAt, `run ${plan.runId}`);
    const state = store.getRuleState(rule.name);
    if (state && state.consecutiveFailures > 0 && state.disabledAt === undefined) store.putRuleState({ ...state, consecutiveFailures: 0 });
    if (!rule.verify) {
      this.#finishAttempt(incidentId, rule, attempt, "succeeded", startedAt, result.detail, plan.runId);
      return;
    }
    store.updateAttempt(incidentId, attempt, { status: "verifying" });
    const verified = await this.#verify(incidentId, rule, signal);
    if (signal.aborted) {
      this.#finishAttempt(incidentId, rule, attempt, "interrupted", startedAt, "cancelled during verification: the server stopped");
      return;
    }
    if (!verified.ok) {
      this.#failed(incidentId, rule, attempt, verified.reason, plan.runId);
      return;
    }
    this.#finishAttempt(incidentId, rule, attempt, "succeeded", startedAt, `${result.detail}; verified`, plan.runId);
  }

  async #verify(incidentId: number, rule: CompiledRule, signal: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string }> {
    const store = this.options.journal;
    const verify = rule.verify!;
    if (verify.kind === "alertResolved") {
      const resolved = await this.#waitResolved(incidentId, verify.timeoutMs, signal);
      if (!resolved) return { ok: false, reason: `verify: the alert still fires ${formatMs(verify.timeoutMs)} after the remediation` };
      // The resolve is the verification, and it is timed when the alert resolved (possibly during the run).
      recordMilestone(this.#ctx, incidentId, "verified", store.getIncident(incidentId)?.milestones.resolved ?? Date.now(), "the alert resolved");
      return { ok: true };
    }
    const outcome = await verifyByProbe(verify, signal);
    if (!outcome.ok) return { ok: false, reason: outcome.reason };
    recordMilestone(this.#ctx, incidentId, "verified", outcome.at, `probe ${verify.url} passes`);
    const incident = store.getIncident(incidentId)!;
    // The probe confirms recovery: the incident does not wait on a resolve that may never come.
    resolveIncident(this.#ctx, incident, outcome.at, "verified by probe");
    return { ok: true };
  }

  #waitResolved(incidentId: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.options.journal.getIncident(incidentId)?.status !== "open") return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.#resolvedWaiters.get(incidentId) ?? new Set();
      const done = (value: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        waiters.delete(wake);
        if (waiters.size === 0) this.#resolvedWaiters.delete(incidentId);
        resolve(value);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      waiters.add(wake);
      this.#resolvedWaiters.set(incidentId, waiters);
    });
  }

  #finishAttempt(incidentId: number, rule: CompiledRule, attempt: number, status: AttemptRecord["status"], startedAt: number, detail: string, runId?: string): void {
    const store = this.options.journal;
    const finishedAt = Date.now();
    store.updateAttempt(incidentId, attempt, { status, finishedAt, detail });
    store.addIncidentEvent(incidentId, { at: finishedAt, kind: "run", message: `attempt ${attempt} ${status}: ${detail}`, data: { attempt, ...(runId ? { runId } : {}) } });
    this.#ctx.emit({ type: "remediation.finished", incidentId, rule: rule.name, attempt, status, durationMs: finishedAt - startedAt, detail, ...(runId ? { runId } : {}) });
  }

  /** A failed attempt: counts toward the circuit breaker, then escalates or waits out the cooldown. */
  #failed(incidentId: number, rule: CompiledRule, attempt: number, detail: string, runId?: string): void {
    const store = this.options.journal;
    const record = store.attempts(incidentId).find((a) => a.attempt === attempt);
    this.#finishAttempt(incidentId, rule, attempt, "failed", record?.startedAt ?? Date.now(), detail, runId);
    const state = store.getRuleState(rule.name) ?? { rule: rule.name, consecutiveFailures: 0 };
    const failures = state.consecutiveFailures + 1;
    const incident = store.getIncident(incidentId)!;
    if (failures >= rule.rule.circuitBreaker && state.disabledAt === undefined) {
      const reason = `${failures} consecutive failed remediations`;
      store.putRuleState({ rule: rule.name, consecutiveFailures: failures, disabledAt: Date.now(), disabledReason: reason });
      this.#ctx.emit({ type: "rule.disabled", rule: rule.name, reason });
      this.#escalate(incident, rule, `escalated: circuit breaker opened, rule ${rule.name} disabled after ${reason}`);
      return;
    }
    store.putRuleState({ ...state, consecutiveFailures: failures });
    // The gates decide what comes next: maxAttempts escalates, cooldown waits.
    this.evaluate(incidentId);
  }

  #escalate(incident: IncidentRecord, rule: CompiledRule | undefined, reason: string): void {
    const store = this.options.journal;
    const now = Date.now();
    if (incident.escalated) {
      store.addIncidentEvent(incident.id, { at: now, kind: "gate", message: `already escalated; ${reason.replace(/^escalated: /, "")}` });
      return;
    }
    store.transaction(() => {
      store.updateIncident(incident.id, { escalated: true });
      recordMilestone(this.#ctx, incident.id, "escalated", now, reason.replace(/^escalated: /, ""));
      store.addIncidentEvent(incident.id, { at: now, kind: "escalation", message: reason });
    });
    this.#ctx.emit({ type: "incident.escalated", incidentId: incident.id, reason, ...(rule ? { rule: rule.name } : {}) });
    if (!rule?.escalation) return;
    const plan = escalationRun(store.getIncident(incident.id)!, reason);
    const escalation = rule.escalation;
    this.#track(async (signal) => {
      const result = await executeWorkflowRun(plan, escalation, { loaded: this.options.loaded, journal: store, defaultTimeoutMs: this.options.defaultTimeoutMs, trigger: { incident: incident.id, attempt: 0, rule: rule.name }, signal }, "escalation").catch((error) => ({
        ok: false,
        detail: describeFailure(error),
      }));
      store.addIncidentEvent(incident.id, { at: Date.now(), kind: "escalation", message: `escalation ${result.ok ? "sent" : "failed"}: ${result.detail}`, data: { runId: plan.runId } });
    });
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
    this.#launch(incidentId, this.#rules.get(waiting.rule)!, waiting.attempt);
    return { ...waiting, status: "queued" };
  }

  acknowledge(incidentId: number, by: string): IncidentRecord {
    const store = this.options.journal;
    if (!store.getIncident(incidentId)) throw notFound(incidentId);
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
    const inFlight = [...this.#running];
    const all = Promise.allSettled(inFlight.map((r) => r.task));
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref?.())]);
    let cancelled = 0;
    if (timedOut) {
      for (const entry of this.#running) {
        entry.controller.abort();
        cancelled++;
      }
      await Promise.allSettled([...this.#running].map((r) => r.task));
    }
    return { finished: inFlight.length - cancelled, cancelled };
  }
}

/** The alert an incident came from, as rule templates see it. */
function alertOfIncident(incident: IncidentRecord): Alert {
  return { source: incident.source, fingerprint: incident.fingerprint, status: "firing", labels: incident.labels, annotations: incident.annotations, startsAt: incident.milestones.started ?? Date.now() };
}
