import type { LoadedConfig } from "../config/index.ts";
import { priorProgress, Slots, type CompiledWorkflow, type EventSink, type PriorProgress } from "../engine/index.ts";
import { isOpsError } from "../errors.ts";
import { localTarget } from "../inventory/index.ts";
import { newRunId, type AttemptRecord, type IncidentRecord, type IncidentStore, type Journal, type RunParams } from "../journal/index.ts";
import { prepareCompiled, prepareWorkflow, startJournaledRun, type ApplyShadow, type PreparedRun } from "../runs/index.ts";
import { sleep } from "../time/index.ts";
import { formatMs } from "../ui/index.ts";
import { countedAttempts } from "./gates.ts";
import { recordMilestone, resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { alertOfIncident, ruleScope, type CompiledRule, type VerifyPlan } from "./rules.ts";

/** Work a decision starts once the transaction that recorded it has committed. */
export type Followup = () => void;

export interface RemediationDeps {
  loaded: LoadedConfig;
  journal: Journal;
  /** Decisions read and write through a context: the journal's, or a transaction's (its timeline lines commit with it). */
  context(store: IncidentStore): LifecycleContext;
  maxConcurrent: number;
  runSinks?: EventSink[];
  /** After a failed attempt the gates decide what comes next (retry after the cooldown, or escalate). */
  reconsider(incidentId: number): Promise<void>;
  /** What failed outside any request: reported as an event, never printed here. */
  report(message: string, incidentId?: number): void;
}

/**
 * Remediation, in one place: runs attempts and escalations (a slot under the
 * global cap, the workflow run through the run service, verification) and
 * records each outcome on the incident. Every task is tracked so that a
 * drain can wait for it or cancel it.
 */
export class Remediations {
  readonly #slots: Slots;
  readonly #ctx: LifecycleContext;
  readonly #running = new Set<{ controller: AbortController; task: Promise<void> }>();
  readonly #resolvedWaiters = new Map<number, Set<() => void>>();
  /** The attempt each incident has in flight (queued, running, verifying). */
  readonly #active = new Map<number, { attempt: number; status: "queued" | "running" | "verifying" }>();

  constructor(private readonly deps: RemediationDeps) {
    this.#slots = new Slots(deps.maxConcurrent);
    this.#ctx = deps.context(deps.journal);
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
      .catch((error) => this.deps.report(describeFailure(error)))
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
      // Slots are taken in launch order: tryAcquire runs before this function's first await.
      if (!this.#slots.tryAcquire()) {
        const reason = `queued: ${this.#slots.inUse} remediations running (server.maxConcurrentRemediations ${this.#slots.size})`;
        await this.#ctx.emit({ type: "incident.gate", incidentId, rule: rule.name, gate: "concurrency", reason });
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
    const incident = (await store.getIncident(incidentId))!;
    if (incident.status !== "open") {
      this.#active.delete(incidentId);
      await store.claimAttempt(incidentId, attempt, "queued", { status: "rejected", finishedAt: Date.now(), detail: `the incident was ${incident.resolution ?? "resolved"} before the run started` });
      return;
    }
    const scope = ruleScope(alertOfIncident(incident), incident);
    let plan;
    try {
      const narrowing = rule.targets?.render(scope, "selector");
      const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
      plan = await planWorkflowRun(this.deps.loaded, rule, narrowing, vars, { incident: incidentId, attempt, rule: rule.name });
    } catch (error) {
      if (await store.claimAttempt(incidentId, attempt, "queued", { status: "running", startedAt: Date.now() })) await this.#failed(incidentId, rule, attempt, `could not plan the run: ${describeFailure(error)}`);
      return;
    }
    const startedAt = Date.now();
    const prior = await this.#interruptedProgress(incidentId, attempt);
    const runId = plan.runId;
    const claimed = await store.transaction(async (tx) => {
      // Compare and set: exactly one executor moves an attempt from queued to running.
      if (!(await tx.claimAttempt(incidentId, attempt, "queued", { status: "running", runId, startedAt }))) return false;
      progress("running");
      const ctx = this.deps.context(tx);
      await tx.updateIncident(incidentId, { attempts: countedAttempts(await tx.attempts(incidentId)) });
      await recordMilestone(ctx, incidentId, "remediation_started", startedAt);
      const continues = prior ? { continues: { runId: prior.runId, rerun: prior.unfinished.map((s) => `${s.name} on ${s.target}`) } } : {};
      const targets = plan.targets.map((t) => t.name);
      await ctx.emit({ type: "remediation.started", incidentId, rule: rule.name, attempt, maxAttempts: rule.rule.maxAttempts, runId, workflow: rule.rule.run, targets, at: startedAt, ...continues });
      return true;
    });
    if (!claimed) return;
    let result: { ok: boolean; detail: string };
    try {
      result = await executeWorkflowRun(plan, { journal: store, signal, ...(this.deps.runSinks ? { sinks: this.deps.runSinks } : {}), ...(prior ? { progress: prior } : {}) });
    } catch (error) {
      result = { ok: false, detail: describeFailure(error) };
    }
    if (signal.aborted) return this.#finishAttempt(incidentId, rule, attempt, "interrupted", startedAt, `cancelled: the server stopped (${result.detail})`);
    if (!result.ok) return this.#failed(incidentId, rule, attempt, result.detail, runId);
    // One commit for the run's outcome: the milestone, the rule's failure count, and (without verification) the attempt's end.
    await store.transaction(async (tx) => {
      const ctx = this.deps.context(tx);
      await recordMilestone(ctx, incidentId, "remediated", Date.now(), `run ${runId}`);
      const state = await tx.getRuleState(rule.name);
      if (state && state.consecutiveFailures > 0 && state.disabledAt === undefined) await tx.putRuleState({ ...state, consecutiveFailures: 0 });
      if (!rule.verify) await this.#finishAttempt(incidentId, rule, attempt, "succeeded", startedAt, result.detail, runId, ctx);
    });
    if (!rule.verify) return;
    await store.updateAttempt(incidentId, attempt, { status: "verifying" });
    progress("verifying");
    const verified = await this.#verify(incidentId, rule, signal);
    if (signal.aborted) return this.#finishAttempt(incidentId, rule, attempt, "interrupted", startedAt, "cancelled during verification: the server stopped");
    if (!verified.ok) return this.#failed(incidentId, rule, attempt, verified.reason, runId);
    await this.#finishAttempt(incidentId, rule, attempt, "succeeded", startedAt, `${result.detail}; verified`, runId);
  }

  /**
   * The progress of the run this attempt continues: the latest attempt before
   * it that was cut off (the server stopped or died under it) and got as far
   * as starting a step. A new attempt after a failed one runs the workflow
   * whole: that is a retry of the runbook, not the continuation of a run.
   */
  async #interruptedProgress(incidentId: number, attempt: number): Promise<PriorProgress | undefined> {
    if (attempt === 1) return undefined;
    const earlier = (await this.deps.journal.attempts(incidentId)).filter((a) => a.attempt < attempt).reverse();
    for (const previous of earlier) {
      if (previous.status !== "interrupted") return undefined;
      if (!previous.runId) continue;
      const progress = await priorProgress(this.deps.journal, previous.runId);
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
      await recordMilestone(this.#ctx, incidentId, "verified", (await store.getIncident(incidentId))?.milestones.resolved ?? Date.now(), "the alert resolved");
      return { ok: true };
    }
    const outcome = await verifyByProbe(verify, signal);
    if (!outcome.ok) return { ok: false, reason: outcome.reason };
    await recordMilestone(this.#ctx, incidentId, "verified", outcome.at, `probe ${verify.url} passes`);
    const incident = (await store.getIncident(incidentId))!;
    // The probe confirms recovery: the incident does not wait on a resolve that may never come.
    await resolveIncident(this.#ctx, incident, outcome.at, "verified by probe");
    return { ok: true };
  }

  async #waitResolved(incidentId: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    let settle: (value: boolean) => void = () => undefined;
    const outcome = new Promise<boolean>((resolve) => {
      const waiters = this.#resolvedWaiters.get(incidentId) ?? new Set();
      settle = (value: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        waiters.delete(wake);
        if (waiters.size === 0) this.#resolvedWaiters.delete(incidentId);
        resolve(value);
      };
      const wake = () => settle(true);
      const onAbort = () => settle(false);
      const timer = setTimeout(() => settle(false), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      waiters.add(wake);
      this.#resolvedWaiters.set(incidentId, waiters);
    });
    // Listening before reading: a resolve that lands while the journal answers is not missed.
    if ((await this.deps.journal.getIncident(incidentId))?.status !== "open") settle(true);
    return outcome;
  }

  async #finishAttempt(incidentId: number, rule: CompiledRule, attempt: number, status: AttemptRecord["status"], startedAt: number, detail: string, runId?: string, ctx = this.#ctx): Promise<void> {
    // Finished: the gates may decide anew (a failure reconsiders at once).
    this.#active.delete(incidentId);
    const finishedAt = Date.now();
    await ctx.store.updateAttempt(incidentId, attempt, { status, finishedAt, detail });
    await ctx.emit({ type: "remediation.finished", incidentId, rule: rule.name, attempt, status, durationMs: finishedAt - startedAt, detail, at: finishedAt, ...(runId ? { runId } : {}) });
  }

  /** A failed attempt: counts toward the circuit breaker, then escalates or waits out the cooldown. */
  async #failed(incidentId: number, rule: CompiledRule, attempt: number, detail: string, runId?: string): Promise<void> {
    const store = this.deps.journal;
    const record = (await store.attempts(incidentId)).find((a) => a.attempt === attempt);
    await this.#finishAttempt(incidentId, rule, attempt, "failed", record?.startedAt ?? Date.now(), detail, runId);
    // Read and written in one transaction: failures of two incidents under one rule both count.
    const opened = await store.transaction(async (tx) => {
      const state = (await tx.getRuleState(rule.name)) ?? { rule: rule.name, consecutiveFailures: 0 };
      const failures = state.consecutiveFailures + 1;
      if (failures >= rule.rule.circuitBreaker && state.disabledAt === undefined) {
        const reason = `${failures} consecutive failed remediations`;
        await tx.putRuleState({ rule: rule.name, consecutiveFailures: failures, disabledAt: Date.now(), disabledReason: reason });
        return reason;
      }
      await tx.putRuleState({ ...state, consecutiveFailures: failures });
      return undefined;
    });
    if (opened) {
      await this.#ctx.emit({ type: "rule.disabled", rule: rule.name, reason: opened });
      const incident = (await store.getIncident(incidentId))!;
      (await this.escalate(this.#ctx, incident, rule, `escalated: circuit breaker opened, rule ${rule.name} disabled after ${opened}`))?.();
      return;
    }
    // The gates decide what comes next: maxAttempts escalates, cooldown waits.
    await this.deps.reconsider(incidentId);
  }

  /**
   * Marks an incident escalated (once: the escalated milestone is set by
   * whichever escalation comes first, so a page is sent once) and returns
   * the rule's escalation steps, to run after `ctx`'s transaction commits.
   */
  async escalate(ctx: LifecycleContext, incident: IncidentRecord, rule: CompiledRule | undefined, reason: string): Promise<Followup | undefined> {
    const at = Date.now();
    const first = !incident.escalated && (await ctx.store.transaction(async (tx) => {
      if (!(await tx.setMilestone(incident.id, "escalated", at))) return false;
      const txCtx = this.deps.context(tx);
      await tx.updateIncident(incident.id, { escalated: true });
      await txCtx.emit({ type: "incident.milestone", incidentId: incident.id, milestone: "escalated", at, note: reason.replace(/^escalated: /, "") });
      await txCtx.emit({ type: "incident.escalated", incidentId: incident.id, reason, at, ...(rule ? { rule: rule.name } : {}) });
      return true;
    }));
    if (!first) {
      await ctx.emit({ type: "escalation.skipped", incidentId: incident.id, reason, at });
      return undefined;
    }
    const escalation = rule?.escalation;
    if (!rule || !escalation) return undefined;
    const current = (await ctx.store.getIncident(incident.id))!;
    return () => this.#runEscalation(current, rule, escalation, reason);
  }

  #runEscalation(incident: IncidentRecord, rule: CompiledRule, escalation: NonNullable<CompiledRule["escalation"]>, reason: string): void {
    const plan = escalationRun(this.deps.loaded, escalation, incident, reason, { incident: incident.id, attempt: 0, rule: rule.name });
    this.#track(async (signal) => {
      const result = await executeWorkflowRun(plan, { journal: this.deps.journal, signal }).catch((error) => ({ ok: false, detail: describeFailure(error) }));
      await this.#ctx.emit({ type: "escalation.finished", incidentId: incident.id, rule: rule.name, runId: plan.runId, ok: result.ok, detail: result.detail, at: Date.now() });
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

// ---------------------------------------------------------------------------
// The runs an attempt or an escalation makes (through the run service, src/runs/), and verification.

type RunTrigger = NonNullable<RunParams["trigger"]>;

/** A remediation's or an escalation's run, prepared, with the run id its attempt records before it starts. */
type WorkflowRun = PreparedRun & { runId: string };

interface RunRequestOptions {
  journal: Journal;
  signal: AbortSignal;
  /** Extra sinks beside the journal (metrics). */
  sinks?: EventSink[];
  /** An interrupted attempt's run this one continues: its finished steps are not run again. */
  progress?: PriorProgress;
}

/** A workflow's shadow: declaration applies to remediations as to `opskit run`; shadow/ loads only for a workflow that has one. */
const applyShadow: ApplyShadow = async (compiled, options) => (await import("../shadow/index.ts")).shadowRun(compiled, options);

/** A rule's workflow (compiled at start) on its targets, narrowed by the rule's rendered selector, with the rule's vars. */
async function planWorkflowRun(loaded: LoadedConfig, rule: CompiledRule, narrowing: string | undefined, vars: Record<string, unknown>, trigger: RunTrigger): Promise<WorkflowRun> {
  const prepared = await prepareWorkflow(loaded, { name: rule.rule.run, compiled: rule.workflow, ...(narrowing ? { limit: narrowing } : {}), targetsWhere: `rule ${rule.name}`, vars, trigger });
  return { ...prepared, runId: newRunId() };
}

/** An escalation runs its steps on this machine with the incident and the reason as vars. */
function escalationRun(loaded: LoadedConfig, escalation: CompiledWorkflow, incident: IncidentRecord, reason: string, trigger: RunTrigger): WorkflowRun {
  const vars = {
    reason,
    incident: { id: incident.id, title: incident.title, fingerprint: incident.fingerprint, attempts: incident.attempts, milestones: incident.milestones },
    alert: { labels: incident.labels, annotations: incident.annotations },
  };
  return { ...prepareCompiled(loaded, { name: `escalate:${trigger.rule}`, compiled: escalation, targets: [localTarget], vars, trigger }), runId: newRunId() };
}

/** What a remediation would run, for a dry run's record: the workflow, its targets and the rule's rendered vars. */
export function describePlan(loaded: LoadedConfig, incident: IncidentRecord, rule: CompiledRule): string {
  try {
    const scope = ruleScope(alertOfIncident(incident), incident);
    const narrowing = rule.targets?.render(scope, "selector");
    const vars = Object.fromEntries(rule.vars.map(([name, template]) => [name, template.render(scope, "raw")]));
    const workflow = loaded.config.workflows[rule.rule.run]!;
    return `workflow ${rule.rule.run} on ${JSON.stringify(workflow.targets)}${narrowing ? ` narrowed to ${JSON.stringify(narrowing)}` : ""} with vars ${JSON.stringify(vars)}`;
  } catch (error) {
    return `workflow ${rule.rule.run} (its templates fail: ${describeFailure(error)})`;
  }
}

/** Runs a prepared remediation or escalation as one journaled run; resolves with whether it succeeded. */
async function executeWorkflowRun(plan: WorkflowRun, options: RunRequestOptions): Promise<{ ok: boolean; status: string; detail: string }> {
  const notes: string[] = [];
  const { counts, status } = await startJournaledRun(plan, {
    journal: options.journal,
    runId: plan.runId,
    signal: options.signal,
    ...(options.sinks ? { sinks: options.sinks } : {}),
    ...(options.progress ? { progress: options.progress } : {}),
    shadow: applyShadow,
    onNote: (note) => notes.push(`; shadow: ${note.message}`),
  });
  const detail = `run ${plan.runId} ${status}: ok=${counts.ok} changed=${counts.changed} failed=${counts.failed} unreachable=${counts.unreachable}${notes.join("")}`;
  return { ok: status === "succeeded", status, detail };
}

/**
 * Verifies recovery with a probe: polls until it passes or the timeout runs
 * out. Returns the time it first passed, or why it never did.
 */
async function verifyByProbe(plan: Extract<VerifyPlan, { kind: "probe" }>, signal: AbortSignal): Promise<{ ok: true; at: number } | { ok: false; reason: string }> {
  const { parseTarget, runProbe } = await import("../probe/index.ts");
  const target = parseTarget(plan.url, "verify.probe");
  const deadline = Date.now() + plan.timeoutMs;
  let last = "no probe ran";
  while (!signal.aborted) {
    const result = await runProbe(
      { target, name: plan.url, labels: {}, expectations: plan.expectations },
      { timeoutMs: Math.min(plan.intervalMs, 10_000), retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 64 * 1024 },
      signal,
    );
    if (result.verdict === "healthy") return { ok: true, at: Date.now() };
    last = result.reason ?? result.error?.message ?? result.expectations.find((e) => !e.passed)?.expr ?? result.verdict;
    if (Date.now() + plan.intervalMs > deadline) break;
    if (!(await sleep(plan.intervalMs, signal))) break;
  }
  return { ok: false, reason: signal.aborted ? "verification cancelled" : `verify probe ${plan.url} still failing after ${Math.round(plan.timeoutMs / 1000)}s: ${last}` };
}

/** An error as one line for an attempt's detail or a heal.error: the message, and the hint in parentheses. */
export function describeFailure(error: unknown): string {
  if (isOpsError(error)) return error.hint ? `${error.message} (${error.hint})` : error.message;
  return error instanceof Error ? error.message : String(error);
}

