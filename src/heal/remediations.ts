import type { LoadedConfig } from "../config/index.ts";
import { priorProgress, type EventSink, type PriorProgress } from "../engine/index.ts";
import type { AttemptRecord, IncidentRecord, Journal } from "../journal/index.ts";
import { formatMs } from "../ui/index.ts";
import { countedAttempts } from "./gates.ts";
import { recordGate, recordMilestone, resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { describeFailure, escalationRun, executeWorkflowRun, planWorkflowRun, verifyByProbe } from "./remediate.ts";
import { alertOfIncident, ruleScope, type CompiledRule } from "./rules.ts";
import { Slots } from "./slots.ts";

export interface RemediationDeps {
  loaded: LoadedConfig;
  journal: Journal;
  ctx: LifecycleContext;
  maxConcurrent: number;
  defaultTimeoutMs: number;
  runSinks?: EventSink[];
  /** After a failed attempt the gates decide what comes next (retry after the cooldown, or escalate). */
  reconsider(incidentId: number): void;
}

/**
 * Runs remediation attempts and escalations: a slot under the global cap,
 * the workflow run, verification, and the bookkeeping of each outcome on the
 * incident. Every task is tracked so that a drain can wait for it or cancel it.
 */
export class Remediations {
  readonly #slots: Slots;
  readonly #running = new Set<{ controller: AbortController; task: Promise<void> }>();
  readonly #resolvedWaiters = new Map<number, Set<() => void>>();
  /** The attempt each incident has in flight (queued, running, verifying). */
  readonly #active = new Map<number, { attempt: number; status: "queued" | "running" | "verifying" }>();

  constructor(private readonly deps: RemediationDeps) {
    this.#slots = new Slots(deps.maxConcurrent);
  }

  get running(): number {
    return this.#slots.inUse;
  }

  active(incidentId: number): { attempt: number; status: string } | undefined {
    return this.#active.get(incidentId);
  }

  /** Wakes verifications waiting for this incident's alert to resolve. */
  resolved(incidentId: number): void {
    for (const wake of this.#resolvedWaiters.get(incidentId) ?? []) wake();
  }

  #track(work: (signal: AbortSignal) => Promise<void>, done?: () => void): void {
    const controller = new AbortController();
    const entry = { controller, task: Promise.resolve() };
    entry.task = work(controller.signal)
      .catch((error) => console.error(`opskit serve: ${describeFailure(error)}`))
      .finally(() => {
        this.#running.delete(entry);
        done?.();
      });
    this.#running.add(entry);
  }

  /** Runs attempt N of an incident's remediation: waits for a slot, runs the workflow, verifies. */
  launch(incidentId: number, rule: CompiledRule, attempt: number): void {
    const state = { attempt, status: "queued" as "queued" | "running" | "verifying" };
    this.#active.set(incidentId, state);
    this.#track(async (signal) => {
      const store = this.deps.journal;
      const incident0 = store.getIncident(incidentId)!;
      if (!this.#slots.tryAcquire()) {
        recordGate(this.deps.ctx, incident0, rule.name, "concurrency", `queued: ${this.#slots.inUse} remediations running (server.maxConcurrentRemediations ${this.#slots.size})`);
        try {
          await this.#slots.acquire(signal);
        } catch {
          return; // stopping: the attempt stays queued and starts after the restart
        }
      }
      try {
        await this.#remediate(incidentId, rule, attempt, signal, (status) => (state.status = status));
      } finally {
        this.#slots.release();
      }
    }, () => {
      if (this.#active.get(incidentId) === state) this.#active.delete(incidentId);
    });
  }

  async #remediate(incidentId: number, rule: CompiledRule, attempt: number, signal: AbortSignal, progress: (status: "running" | "verifying") => void): Promise<void> {
    const store = this.deps.journal;
    const incident = store.getIncident(incidentId)!;
    if (incident.status !== "open") {
      this.#active.delete(incidentId);
      store.updateAttempt(incidentId, attempt, { status: "rejected", finishedAt: Date.now(), detail: `the incident was ${incident.resolution ?? "resolved"} before the run started` });
      return;
    }
    const scope = ruleScope(alertOfIncident(incident), incident);
    let plan;
    try {
      const narrowing = rule.targets?.render(scope, "selector");
      const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
      plan = await planWorkflowRun(this.deps.loaded, rule, narrowing, vars, { incident: incidentId, attempt, rule: rule.name });
    } catch (error) {
      store.updateAttempt(incidentId, attempt, { status: "running", startedAt: Date.now() });
      this.#failed(incidentId, rule, attempt, `could not plan the run: ${describeFailure(error)}`);
      return;
    }
    const startedAt = Date.now();
    const targets = plan.targets.map((t) => t.name);
    const prior = this.#interruptedProgress(incidentId, attempt);
    const continues = prior ? `; continues run ${prior.runId}: steps that finished there do not run again${prior.unfinished.length > 0 ? `, ${prior.unfinished.map((s) => `${s.name} on ${s.target}`).join(", ")} (cut off there) runs again` : ""}` : "";
    store.transaction(() => {
      store.updateAttempt(incidentId, attempt, { status: "running", runId: plan.runId, startedAt });
      progress("running");
      store.updateIncident(incidentId, { attempts: countedAttempts(store.attempts(incidentId)) });
      recordMilestone(this.deps.ctx, incidentId, "remediation_started", startedAt);
      store.addIncidentEvent(incidentId, {
        at: startedAt,
        kind: "run",
        message: `remediation started: attempt ${attempt} of ${rule.rule.maxAttempts}, workflow ${rule.rule.run} on ${targets.join(", ")} (run ${plan.runId})${continues}`,
        data: { runId: plan.runId, attempt },
      });
    });
    this.deps.ctx.emit({ type: "remediation.started", incidentId, rule: rule.name, attempt, runId: plan.runId, workflow: rule.rule.run, targets });
    let result: { ok: boolean; detail: string };
    try {
      result = await executeWorkflowRun(plan, { journal: store, signal, ...(this.deps.runSinks ? { sinks: this.deps.runSinks } : {}), ...(prior ? { progress: prior } : {}) });
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
    recordMilestone(this.deps.ctx, incidentId, "remediated", remediatedAt, `run ${plan.runId}`);
    const state = store.getRuleState(rule.name);
    if (state && state.consecutiveFailures > 0 && state.disabledAt === undefined) store.putRuleState({ ...state, consecutiveFailures: 0 });
    if (!rule.verify) {
      this.#finishAttempt(incidentId, rule, attempt, "succeeded", startedAt, result.detail, plan.runId);
      return;
    }
    store.updateAttempt(incidentId, attempt, { status: "verifying" });
    progress("verifying");
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

  /**
   * The progress of the run this attempt continues: the latest attempt before
   * it that was cut off (the server stopped or died under it) and got as far
   * as starting a step. A new attempt after a failed one runs the workflow
   * whole: that is a retry of the runbook, not the continuation of a run.
   */
  #interruptedProgress(incidentId: number, attempt: number): PriorProgress | undefined {
    const earlier = this.deps.journal.attempts(incidentId).filter((a) => a.attempt < attempt).reverse();
    for (const previous of earlier) {
      if (previous.status !== "interrupted") return undefined;
      if (!previous.runId) continue;
      const progress = priorProgress(this.deps.journal, previous.runId);
      if (progress.started) return progress;
    }
    return undefined;
  }

  async #verify(incidentId: number, rule: CompiledRule, signal: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string }> {
    const store = this.deps.journal;
    const verify = rule.verify!;
    if (verify.kind === "alertResolved") {
      const resolved = await this.#waitResolved(incidentId, verify.timeoutMs, signal);
      if (!resolved) return { ok: false, reason: `verify: the alert still fires ${formatMs(verify.timeoutMs)} after the remediation` };
      // The resolve is the verification, and it is timed when the alert resolved (possibly during the run).
      recordMilestone(this.deps.ctx, incidentId, "verified", store.getIncident(incidentId)?.milestones.resolved ?? Date.now(), "the alert resolved");
      return { ok: true };
    }
    const outcome = await verifyByProbe(verify, signal);
    if (!outcome.ok) return { ok: false, reason: outcome.reason };
    recordMilestone(this.deps.ctx, incidentId, "verified", outcome.at, `probe ${verify.url} passes`);
    const incident = store.getIncident(incidentId)!;
    // The probe confirms recovery: the incident does not wait on a resolve that may never come.
    resolveIncident(this.deps.ctx, incident, outcome.at, "verified by probe");
    return { ok: true };
  }

  #waitResolved(incidentId: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.deps.journal.getIncident(incidentId)?.status !== "open") return Promise.resolve(true);
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
    // Finished: the gates may decide anew (a failure reconsiders at once).
    this.#active.delete(incidentId);
    const store = this.deps.journal;
    const finishedAt = Date.now();
    store.updateAttempt(incidentId, attempt, { status, finishedAt, detail });
    store.addIncidentEvent(incidentId, { at: finishedAt, kind: "run", message: `attempt ${attempt} ${status}: ${detail}`, data: { attempt, ...(runId ? { runId } : {}) } });
    this.deps.ctx.emit({ type: "remediation.finished", incidentId, rule: rule.name, attempt, status, durationMs: finishedAt - startedAt, detail, ...(runId ? { runId } : {}) });
  }

  /** A failed attempt: counts toward the circuit breaker, then escalates or waits out the cooldown. */
  #failed(incidentId: number, rule: CompiledRule, attempt: number, detail: string, runId?: string): void {
    const store = this.deps.journal;
    const record = store.attempts(incidentId).find((a) => a.attempt === attempt);
    this.#finishAttempt(incidentId, rule, attempt, "failed", record?.startedAt ?? Date.now(), detail, runId);
    const state = store.getRuleState(rule.name) ?? { rule: rule.name, consecutiveFailures: 0 };
    const failures = state.consecutiveFailures + 1;
    const incident = store.getIncident(incidentId)!;
    if (failures >= rule.rule.circuitBreaker && state.disabledAt === undefined) {
      const reason = `${failures} consecutive failed remediations`;
      store.putRuleState({ rule: rule.name, consecutiveFailures: failures, disabledAt: Date.now(), disabledReason: reason });
      this.deps.ctx.emit({ type: "rule.disabled", rule: rule.name, reason });
      this.escalate(incident, rule, `escalated: circuit breaker opened, rule ${rule.name} disabled after ${reason}`);
      return;
    }
    store.putRuleState({ ...state, consecutiveFailures: failures });
    // The gates decide what comes next: maxAttempts escalates, cooldown waits.
    this.deps.reconsider(incidentId);
  }

  escalate(incident: IncidentRecord, rule: CompiledRule | undefined, reason: string): void {
    const store = this.deps.journal;
    const now = Date.now();
    if (incident.escalated) {
      store.addIncidentEvent(incident.id, { at: now, kind: "gate", message: `already escalated; ${reason.replace(/^escalated: /, "")}` });
      return;
    }
    store.transaction(() => {
      store.updateIncident(incident.id, { escalated: true });
      recordMilestone(this.deps.ctx, incident.id, "escalated", now, reason.replace(/^escalated: /, ""));
      store.addIncidentEvent(incident.id, { at: now, kind: "escalation", message: reason });
    });
    this.deps.ctx.emit({ type: "incident.escalated", incidentId: incident.id, reason, ...(rule ? { rule: rule.name } : {}) });
    if (!rule?.escalation) return;
    const plan = escalationRun(this.deps.loaded, rule.escalation, store.getIncident(incident.id)!, reason, { incident: incident.id, attempt: 0, rule: rule.name });
    this.#track(async (signal) => {
      const result = await executeWorkflowRun(plan, { journal: store, signal }).catch((error) => ({
        ok: false,
        detail: describeFailure(error),
      }));
      store.addIncidentEvent(incident.id, { at: Date.now(), kind: "escalation", message: `escalation ${result.ok ? "sent" : "failed"}: ${result.detail}`, data: { runId: plan.runId } });
    });
  }

  /** Waits up to graceMs for tracked work, then cancels what is left. */
  async drain(graceMs: number): Promise<{ finished: number; cancelled: number }> {
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
