import type { LoadedConfig } from "../config/index.ts";
import { approvedSteps, priorProgress, Slots, type EventSink, type PriorProgress, type StepApprovals } from "../engine/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import type { JobQueue } from "../jobs/index.ts";
import type { AttemptRecord, IncidentRecord, IncidentStore, Journal } from "../journal/index.ts";
import { attemptSpanId, escalationSpanId } from "../observe/index.ts";
import { formatMs } from "../ui/index.ts";
import { countedAttempts } from "./gates.ts";
import { recordMilestone, resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { describeFailure, escalationRun, executeWorkflowRun, planWorkflowRun, verifyByProbe, type HeldStep } from "./remediation-runs.ts";
import { alertOfIncident, ruleScope, type CompiledRule } from "./rules.ts";

export { describeFailure, describePlan } from "./remediation-runs.ts";

/** Work a decision starts once the transaction that recorded it has committed. */
export type Followup = () => void;

/** What the job queue carries for attempt N of an incident: the attempt's key, (incident, attempt), is its idempotency key. */
export interface RemediationJob {
  incidentId: number;
  attempt: number;
  rule: string;
}

/** The job key of an attempt: a queue holds one job per key at a time. */
export const remediationKey = (incidentId: number, attempt: number): string => `${incidentId}:${attempt}`;

/**
 * How many jobs the in-process queue starts at once: all of them. Locally
 * the slots below are the cap, so a job waiting for one is recorded as
 * queued behind the running ones (the concurrency gate) in launch order.
 */
const LOCAL_JOBS = 1_000_000;
/** How often a verification waiting for the alert to resolve reads the journal (another replica may apply the resolve). */
const RESOLVE_POLL_MS = 1000;

export interface RemediationDeps {
  loaded: LoadedConfig;
  journal: Journal;
  /** Decisions read and write through a context: the journal's, or a transaction's (its timeline lines commit with it). */
  context(store: IncidentStore): LifecycleContext;
  maxConcurrent: number;
  runSinks?: EventSink[];
  /** The runs' output as step.output events to runSinks while steps run (the dashboard follows it live). */
  streamOutput?: boolean;
  /** Where attempts go to be run, by this replica or another. */
  queue: JobQueue<RemediationJob>;
  /** This replica's id: an attempt it claims names it as its owner. */
  owner: string;
  rule(name: string): CompiledRule | undefined;
  /** After a failed attempt the gates decide what comes next (retry after the cooldown, or escalate). */
  reconsider(incidentId: number): Promise<void>;
  /** What failed outside any request: reported as an event, never printed here. */
  report(message: string, incidentId?: number): void;
}

type ActiveStatus = "queued" | "running" | "verifying";

/**
 * Remediation, in one place: sends attempts to the job queue, and runs those
 * the queue hands this replica (a slot under the global cap, the workflow run
 * through the run service, verification), recording each outcome on the
 * incident. An attempt runs once whatever the queue delivers: the handler
 * claims it (queued -> running, compare and set) before anything runs, and
 * records its end only while it still holds it. Every task is tracked so
 * that a drain can wait for it or cancel it.
 */
export class Remediations {
  readonly #slots: Slots;
  readonly #ctx: LifecycleContext;
  readonly #queue: JobQueue<RemediationJob>;
  readonly #running = new Set<{ controller: AbortController; task: Promise<void> }>();
  /** Why tracked work is cancelled: the server stops (drain), unless cancelRunning said otherwise. */
  #cancelled = "the server stopped";
  readonly #resolvedWaiters = new Map<number, Set<() => void>>();
  /**
   * The attempt each incident has in flight in this process (queued here,
   * running, verifying). A cache of the journal, never ahead of it: an entry
   * exists only while this process holds the attempt (with the in-process
   * queue, from its send, since the job can only run here; with a shared
   * queue, from its claim) and goes when the attempt ends here, so while it
   * exists the journal has the attempt active too and the gates would hold.
   */
  readonly #active = new Map<number, { attempt: number; status: ActiveStatus }>();
  #stopping = false;
  /** The queue's worker, registered at construction: an attempt launched before start() still runs. */
  readonly #working: Promise<void>;

  constructor(private readonly deps: RemediationDeps) {
    this.#slots = new Slots(deps.maxConcurrent);
    this.#ctx = deps.context(deps.journal);
    this.#queue = deps.queue;
    const local = this.#queue.kind === "local";
    this.#working = this.#queue.work((job, signal) => this.#handle(job, signal), { concurrency: local ? LOCAL_JOBS : deps.maxConcurrent });
    // Awaited by start(); until then a failure is not unhandled.
    this.#working.catch(() => undefined);
  }

  get running(): number {
    return this.#slots.inUse;
  }

  /** Where a remediation's or an escalation's run events go beside the journal. */
  #runOutput(): { sinks?: EventSink[]; stream?: boolean } {
    return { ...(this.deps.runSinks ? { sinks: this.deps.runSinks } : {}), ...(this.deps.streamOutput ? { stream: true } : {}) };
  }

  active(incidentId: number): { attempt: number; status: string } | undefined {
    return this.#active.get(incidentId);
  }

  /** Wakes verifications waiting for this incident's alert to resolve. */
  resolved(incidentId: number): void {
    for (const wake of this.#resolvedWaiters.get(incidentId) ?? []) wake();
  }

  /** Resolves once the queue takes attempts (rejects if it cannot). */
  started(): Promise<void> {
    return this.#working;
  }

  #track(work: (signal: AbortSignal) => Promise<void>, done?: () => void, outer?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const entry = { controller, task: Promise.resolve() };
    const signal = outer ? AbortSignal.any([controller.signal, outer]) : controller.signal;
    entry.task = work(signal)
      .catch((error) => this.deps.report(describeFailure(error)))
      .finally(() => {
        this.#running.delete(entry);
        done?.();
      });
    this.#running.add(entry);
    return entry.task;
  }

  /**
   * Sends attempt N of an incident (queued in the journal already) to the
   * queue; whichever replica the queue hands it to runs it. Sending twice is
   * harmless: the queue holds one job per key, and a second delivery finds
   * the attempt claimed.
   */
  launch(incidentId: number, rule: CompiledRule, attempt: number): void {
    this.#queue.send(remediationKey(incidentId, attempt), { incidentId, attempt, rule: rule.name }).catch((error: unknown) => this.deps.report(`attempt ${attempt} could not be queued: ${describeFailure(error)}`, incidentId));
  }

  /** The queue's handler: waits for a slot, claims the attempt, runs the workflow, verifies. */
  #handle(job: { data: RemediationJob }, outer: AbortSignal): Promise<void> {
    const { incidentId, attempt } = job.data;
    if (this.#stopping) {
      // A shared queue hands the job back (to another replica, or to this one after its restart); locally the journal keeps it queued.
      if (this.#queue.kind === "local") return Promise.resolve();
      return Promise.reject(new OpsError({ code: "E_STOPPING", message: "this replica is shutting down", exitCode: ExitCode.interrupted }));
    }
    const rule = this.deps.rule(job.data.rule);
    if (!rule) {
      this.deps.report(`attempt ${attempt} names rule ${job.data.rule}, which this server's config does not have: it stays queued for a replica that has it`, incidentId);
      return Promise.resolve();
    }
    const state = { attempt, status: "queued" as ActiveStatus };
    // In-process, a job runs here and nowhere else: held from its delivery. From a shared queue, held once claimed (a delivery may be a redelivery).
    const hold = () => {
      if (!this.#active.has(incidentId)) this.#active.set(incidentId, state);
    };
    if (this.#queue.kind === "local") hold();
    return this.#track(
      async (signal) => {
        // A queue delivers at least once: a job for an attempt no longer queued (a redelivery, a resend) ends here.
        if ((await this.deps.journal.attempts(incidentId)).find((a) => a.attempt === attempt)?.status !== "queued") return;
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
          await this.#remediate(incidentId, rule, attempt, signal, (status) => {
            state.status = status;
            hold();
          });
        } finally {
          this.#slots.release();
        }
      },
      () => {
        if (this.#active.get(incidentId) === state) this.#active.delete(incidentId);
      },
      outer,
    );
  }

  async #remediate(incidentId: number, rule: CompiledRule, attempt: number, signal: AbortSignal, progress: (status: "running" | "verifying") => void): Promise<void> {
    const store = this.deps.journal;
    const incident = (await store.getIncident(incidentId))!;
    if (incident.status !== "open") {
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
      if (await store.claimAttempt(incidentId, attempt, "queued", { status: "running", owner: this.deps.owner, startedAt: Date.now() })) await this.#failed(incidentId, rule, attempt, "running", `could not plan the run: ${describeFailure(error)}`);
      return;
    }
    const startedAt = Date.now();
    // The run joins the incident's trace under the attempt's span (derived, so whichever replica runs it names it alike).
    const trace = incident.traceId ? { traceId: incident.traceId, parentSpanId: attemptSpanId(incident.traceId, attempt) } : undefined;
    // Held for approval mid-run and approved: it continues that run, and the steps that asked run with their grants.
    const heldRun = (await store.attempts(incidentId)).find((a) => a.attempt === attempt)?.runId;
    const prior = heldRun ? await priorProgress(store, heldRun) : await this.#interruptedProgress(incidentId, attempt);
    const approvals: StepApprovals | undefined = heldRun ? await approvedSteps(store, heldRun) : undefined;
    const runId = plan.runId;
    const claimed = await store.transaction(async (tx) => {
      // Compare and set: exactly one executor moves an attempt from queued to running.
      if (!(await tx.claimAttempt(incidentId, attempt, "queued", { status: "running", owner: this.deps.owner, runId, startedAt }))) return false;
      progress("running");
      const ctx = this.deps.context(tx);
      await tx.updateIncident(incidentId, { attempts: countedAttempts(await tx.attempts(incidentId)) });
      await recordMilestone(ctx, incidentId, "remediation_started", startedAt);
      const continues = prior ? { continues: { runId: prior.runId, rerun: prior.unfinished.map((s) => `${s.name} on ${s.target}`) } } : {};
      const targets = plan.targets.map((t) => t.name);
      await ctx.emit({ type: "remediation.started", incidentId, rule: rule.name, attempt, maxAttempts: rule.rule.maxAttempts, runId, workflow: rule.rule.run, targets, at: startedAt, ...continues, ...(trace ? { traceId: trace.traceId, spanId: trace.parentSpanId } : {}) });
      return true;
    });
    if (!claimed) return;
    let result: { ok: boolean; detail: string; held?: HeldStep[] };
    try {
      result = await executeWorkflowRun(plan, { journal: store, signal, ...this.#runOutput(), ...(prior ? { progress: prior } : {}), ...(approvals ? { approvals } : {}), ...(trace ? { trace } : {}) });
    } catch (error) {
      result = { ok: false, detail: describeFailure(error) };
    }
    if (signal.aborted) return void (await this.#finishAttempt(incidentId, rule, attempt, "running", "interrupted", startedAt, `cancelled: ${this.#cancelled} (${result.detail})`));
    if (!result.ok && result.held) return this.#hold(incidentId, rule, attempt, runId, result.held);
    if (!result.ok) return this.#failed(incidentId, rule, attempt, "running", result.detail, runId);
    // One commit for the run's outcome: the milestone, the rule's failure count, and (without verification) the attempt's end.
    await store.transaction(async (tx) => {
      const ctx = this.deps.context(tx);
      await recordMilestone(ctx, incidentId, "remediated", Date.now(), `run ${runId}`);
      const state = await tx.getRuleState(rule.name);
      if (state && state.consecutiveFailures > 0 && state.disabledAt === undefined) await tx.putRuleState({ ...state, consecutiveFailures: 0 });
      if (!rule.verify) await this.#finishAttempt(incidentId, rule, attempt, "running", "succeeded", startedAt, result.detail, runId, ctx);
    });
    if (!rule.verify) return;
    if (!(await store.claimAttempt(incidentId, attempt, "running", { status: "verifying" }))) return this.#lost(incidentId, attempt, "verifying");
    progress("verifying");
    const verified = await this.#verify(incidentId, rule, signal);
    if (signal.aborted) return void (await this.#finishAttempt(incidentId, rule, attempt, "verifying", "interrupted", startedAt, `cancelled during verification: ${this.#cancelled}`));
    if (!verified.ok) return this.#failed(incidentId, rule, attempt, "verifying", verified.reason, runId);
    await this.#finishAttempt(incidentId, rule, attempt, "verifying", "succeeded", startedAt, `${result.detail}; verified`, runId);
  }

  /**
   * The run stopped only at steps that ask a person's approval (a Terraform
   * plan that would destroy): the attempt waits for it, showing what they
   * ask, instead of failing. It keeps the run's id: `approve` queues it
   * again, and that run continues this one, the steps that asked running
   * with what they asked for; `deny` rejects it and escalates, as for any
   * attempt awaiting approval.
   */
  async #hold(incidentId: number, rule: CompiledRule, attempt: number, runId: string, held: HeldStep[]): Promise<void> {
    this.#active.delete(incidentId);
    const asks = held.map((h) => `${h.step} on ${h.target}: ${h.summary}`).join("; ");
    const summary = asks.length > 4000 ? `${asks.slice(0, 3997)}...` : asks;
    if (!(await this.deps.journal.claimAttempt(incidentId, attempt, "running", { status: "awaiting_approval", detail: `run ${runId} waits for approval: ${summary}` }))) {
      return this.#lost(incidentId, attempt, "awaiting_approval");
    }
    const reason = `waiting: approval required for attempt ${attempt} to go on (run ${runId}): ${summary} (opskit incidents approve ${incidentId} continues with exactly this; deny refuses it)`;
    await this.#ctx.emit({ type: "incident.gate", incidentId, rule: rule.name, gate: "approval", reason });
  }

  /**
   * The attempt is no longer this replica's: it was marked interrupted (the
   * leader found this replica silent for longer than its heartbeat lease,
   * and another may run its retry). What happened here is not recorded over it.
   */
  #lost(incidentId: number, attempt: number, outcome: string): void {
    this.#active.delete(incidentId);
    this.deps.report(`attempt ${attempt} was taken over while this replica ran it (it had been silent for longer than its lease); its outcome here (${outcome}) is not recorded`, incidentId);
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
    const outcome = await verifyByProbe(verify, (await store.getIncident(incidentId))!, signal);
    if (!outcome.ok) return { ok: false, reason: outcome.reason };
    const held = verify.holdMs > 0 ? ` and held for ${formatMs(outcome.at - outcome.since)}` : "";
    await recordMilestone(this.#ctx, incidentId, "verified", outcome.at, `${verify.shown} passes${held}`);
    const incident = (await store.getIncident(incidentId))!;
    // The probe confirms recovery: the incident does not wait on a resolve that may never come.
    await resolveIncident(this.#ctx, incident, outcome.at, "verified by probe");
    return { ok: true };
  }

  /**
   * Waits for the incident's alert to resolve: woken by this process's
   * incident.resolved event at once, and, since the resolve may be applied by
   * another replica sharing the journal, by reading the journal every
   * RESOLVE_POLL_MS.
   */
  async #waitResolved(incidentId: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    let settle: (value: boolean) => void = () => undefined;
    const outcome = new Promise<boolean>((resolve) => {
      const waiters = this.#resolvedWaiters.get(incidentId) ?? new Set();
      settle = (value: boolean) => {
        clearTimeout(timer);
        clearInterval(poll);
        signal.removeEventListener("abort", onAbort);
        waiters.delete(wake);
        if (waiters.size === 0) this.#resolvedWaiters.delete(incidentId);
        resolve(value);
      };
      const wake = () => settle(true);
      const onAbort = () => settle(false);
      const timer = setTimeout(() => settle(false), timeoutMs);
      const poll = setInterval(() => {
        this.deps.journal.getIncident(incidentId).then(
          (incident) => incident?.status !== "open" && settle(true),
          () => undefined,
        );
      }, RESOLVE_POLL_MS);
      signal.addEventListener("abort", onAbort, { once: true });
      waiters.add(wake);
      this.#resolvedWaiters.set(incidentId, waiters);
    });
    // Listening before reading: a resolve that lands while the journal answers is not missed.
    if ((await this.deps.journal.getIncident(incidentId))?.status !== "open") settle(true);
    return outcome;
  }

  /** Records the attempt's end while it is still in status `from` (this replica's); false when it was taken over. */
  async #finishAttempt(incidentId: number, rule: CompiledRule, attempt: number, from: "running" | "verifying", status: AttemptRecord["status"], startedAt: number, detail: string, runId?: string, ctx = this.#ctx): Promise<boolean> {
    // Finished: the gates may decide anew (a failure reconsiders at once).
    this.#active.delete(incidentId);
    const finishedAt = Date.now();
    if (!(await ctx.store.claimAttempt(incidentId, attempt, from, { status, finishedAt, detail }))) {
      this.#lost(incidentId, attempt, status);
      return false;
    }
    await ctx.emit({ type: "remediation.finished", incidentId, rule: rule.name, attempt, status, durationMs: finishedAt - startedAt, detail, at: finishedAt, ...(runId ? { runId } : {}) });
    return true;
  }

  /** A failed attempt: counts toward the circuit breaker, then escalates or waits out the cooldown. */
  async #failed(incidentId: number, rule: CompiledRule, attempt: number, from: "running" | "verifying", detail: string, runId?: string): Promise<void> {
    const store = this.deps.journal;
    const record = (await store.attempts(incidentId)).find((a) => a.attempt === attempt);
    if (!(await this.#finishAttempt(incidentId, rule, attempt, from, "failed", record?.startedAt ?? Date.now(), detail, runId))) return;
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
      await txCtx.emit({ type: "incident.escalated", incidentId: incident.id, reason, at, ...(rule ? { rule: rule.name } : {}), ...(incident.traceId ? { traceId: incident.traceId } : {}) });
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
      const trace = incident.traceId ? { trace: { traceId: incident.traceId, parentSpanId: escalationSpanId(incident.traceId) } } : {};
      const result = await executeWorkflowRun(plan, { journal: this.deps.journal, signal, ...this.#runOutput(), ...trace }).catch((error) => ({ ok: false, detail: describeFailure(error) }));
      await this.#ctx.emit({ type: "escalation.finished", incidentId: incident.id, rule: rule.name, runId: plan.runId, ok: result.ok, detail: result.detail, at: Date.now() });
    });
  }

  /**
   * Cancels the attempts this replica runs, now, and says why on each: a
   * replica cut off from the journal stops its remote commands before the
   * leader, which counts it dead after the ttl, starts the next attempt
   * elsewhere. Jobs still come from the queue once it is back.
   */
  cancelRunning(reason: string): number[] {
    this.#cancelled = reason;
    const incidents = [...this.#active.keys()];
    for (const entry of this.#running) if (!entry.controller.signal.aborted) entry.controller.abort();
    return incidents;
  }

  /** Waits up to graceMs for tracked work, then cancels what is left. */
  async drain(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    // Jobs delivered from now on are not started (a shared queue gets them back).
    this.#stopping = true;
    this.#cancelled = "the server stopped";
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
    await this.#queue.stop(0);
    return { finished: inFlight.length - cancelled, cancelled };
  }
}
