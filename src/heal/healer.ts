import { standaloneCluster, type Cluster } from "../cluster/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import type { EventSink } from "../engine/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { localQueue, type JobQueue } from "../jobs/index.ts";
import type { AttemptRecord, IncidentRecord, IncidentStore, Journal, SilenceMatcher, SilenceRecord } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { PendingNotification } from "./backlog.ts";
import type { HealSink } from "./events.ts";
import { decide } from "./gates.ts";
import { NotificationIntake } from "./intake.ts";
import { NotificationProcessing } from "./processing.ts";
import { createAttempt, lifecycleContext, recordMilestone, resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { answerRuleQueries } from "./rule-queries.ts";
import type { CompiledRule, QueryAnswer } from "./rules.ts";
import { describeFailure, describePlan, Remediations, type Followup, type RemediationJob } from "./remediations.ts";
import { alertsOf, checkNotificationBody, checkSource } from "./sources/index.ts";
import { interruptAttempt, LeaderSweeps } from "./sweeps.ts";
import { newSilence, silenceMatches, silencing, type SilenceInput } from "./silences.ts";

/** The longest a timer waits (setTimeout's own limit is 24.8 days): a later end is looked at again, and waited for again. */
const MAX_WAIT_MS = 6 * 3_600_000;

export interface HealerOptions {
  loaded: LoadedConfig;
  journal: Journal;
  rules: CompiledRule[];
  /** Record what would run, run nothing. */
  dryRun: boolean;
  maxConcurrentRemediations: number;
  staleAfterMs: number;
  defaultTimeoutMs: number;
  /** Where heal events go beside the incident timeline: metrics, the terminal, --json. */
  sinks: HealSink[];
  /** Sinks for the remediation and escalation runs' own events (metrics, the dashboard's stream), beside the journal. */
  runSinks?: EventSink[];
  /** Their output as step.output events to runSinks while steps run (the dashboard follows it live). */
  streamOutput?: boolean;
  /** The replicas sharing the journal (opskit serve joins one); default a cluster of this process alone. */
  cluster?: Cluster;
  /** Where attempts go to be run: pg-boss when replicas share PostgreSQL; default an in-process queue. */
  queue?: JobQueue<RemediationJob>;
}

function notFound(id: number): OpsError {
  return new OpsError({ code: "E_NOT_FOUND", message: `no incident ${id}`, hint: "opskit incidents lists them", exitCode: ExitCode.usage });
}

function nothingToApprove(id: number, verb: "approve" | "deny" = "approve"): OpsError {
  return new OpsError({
    code: verb === "approve" ? "E_NOTHING_TO_APPROVE" : "E_NOTHING_TO_DENY",
    message: `incident ${id} has no remediation waiting for approval`,
    hint: `opskit incidents show ${id} shows its timeline`,
    exitCode: ExitCode.usage,
  });
}

/**
 * The self-healing core: alerts in, incidents and remediation runs out.
 * Every notification is journaled before it is acknowledged; processing and
 * remediation happen after, so a sender never waits on a runbook.
 *
 * Two notifications for one fingerprint never both open an incident or start
 * a run, however their journal calls interleave and whichever replica makes
 * them: the journal keeps one open incident per fingerprint, one row per
 * (incident, attempt), and claims each notification for the transaction that
 * applies it; a decision that loses either race records a repeat or a dedupe
 * instead; approving, starting and escalating an attempt are compare-and-set
 * moves (claimAttempt, the escalated milestone) that exactly one caller wins.
 * What this class keeps in memory (timers, the dedupe it recorded last, the
 * attempts it runs) only spares reads or repeated timeline lines: each says
 * below why it cannot change a decision.
 */
export class Healer {
  readonly intake: NotificationIntake;
  readonly cluster: Cluster;
  readonly #ctx: LifecycleContext;
  readonly #sinks: HealSink[];
  readonly #rules: Map<string, CompiledRule>;
  readonly #remediations: Remediations;
  /**
   * A wait (cooldown, rate limit) this process set: until it ends, the gates
   * would hold again whatever arrives, so a repeat is not decided anew. Its
   * end decides again from the journal. It dies with the process: the leader
   * decides again for incidents nobody waits on (sweeps.ts), and two
   * replicas deciding at once create one attempt (the journal's key).
   */
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();
  /**
   * The dedupe each incident's decisions last recorded: while its attempt
   * keeps the same status, a repeat notification changes nothing, so the
   * same wait is not recorded again (as a timer's wait is not), which in a
   * storm was a timeline write and an event per incident per batch. It
   * decides only whether a line is written, never what runs.
   */
  readonly #deduped = new Map<number, string>();
  /** The silence each incident's decisions last recorded as holding it: held again by the same one (a repeat, a timer), it is not written again. */
  readonly #silenced = new Map<number, string>();
  readonly #processing: NotificationProcessing;
  readonly #sweeps: LeaderSweeps;
  /** Incidents whose attempt this replica cancelled when it was cut off from the journal, to close once it is back. */
  readonly #cutOff = new Set<number>();
  /** What the rules' queries answered for the batch being applied (answerRuleQueries), read by its transaction. */
  #answers: ReadonlyMap<string, QueryAnswer> = new Map();
  #stopping = false;

  constructor(private readonly options: HealerOptions) {
    // Verifications waiting for an alert to resolve hear it here, like any other sink.
    const wakeVerifications: HealSink = (event) => {
      if (event.type === "incident.resolved") this.#remediations.resolved(event.incidentId);
    };
    this.#sinks = [wakeVerifications, ...options.sinks];
    this.#ctx = this.#context(options.journal);
    this.#rules = new Map(options.rules.map((r) => [r.name, r]));
    this.cluster = options.cluster ?? standaloneCluster();
    this.#remediations = new Remediations({
      loaded: options.loaded,
      journal: options.journal,
      context: (store) => this.#context(store),
      maxConcurrent: options.maxConcurrentRemediations,
      ...(options.runSinks ? { runSinks: options.runSinks } : {}),
      ...(options.streamOutput ? { streamOutput: true } : {}),
      queue: options.queue ?? localQueue<RemediationJob>(),
      owner: this.cluster.id,
      rule: (name) => this.#rules.get(name),
      reconsider: (incidentId) => this.evaluate(incidentId),
      report: (message, incidentId) => this.#report(message, incidentId === undefined ? {} : { incidentId }),
    });
    this.#processing = new NotificationProcessing({
      journal: options.journal,
      context: (store) => this.#context(store),
      prepare: (batch) => this.#answerQueries(batch),
      decide: (ctx, incidentId) => this.#evaluateIn(ctx, incidentId),
      processed: (count, oldest) => this.#ctx.emit({ type: "notifications.processed", count, lagMs: Date.now() - oldest }),
      // What the batch recorded is undone with it: its dedupes are recorded again.
      rolledBack: () => this.#deduped.clear(),
      skipped: (notification, error) => this.#report(`notification ${notification.id} not applied: ${describeFailure(error)}`, { notificationId: notification.id }),
    });
    this.intake = new NotificationIntake(options.journal, (batch) => {
      this.#processing.backlog.add(batch);
      this.#wake();
    });
    this.cluster.onChange(() => this.#connectionChanged());
    this.#sweeps = new LeaderSweeps({
      journal: options.journal,
      cluster: this.cluster,
      rules: this.#rules,
      remediations: this.#remediations,
      staleAfterMs: options.staleAfterMs,
      context: (store) => this.#context(store),
      decideQuietly: (ctx, incidentId) => this.#evaluateIn(ctx, incidentId, true),
      evaluate: (incidentId) => this.evaluate(incidentId),
      waiting: (incidentId) => this.#timers.has(incidentId) || this.#remediations.active(incidentId) !== undefined,
      paused: () => this.isPaused(),
      wakeProcessing: () => this.#wake(),
      report: (message) => this.#report(message),
    });
  }

  #context(store: IncidentStore): LifecycleContext {
    return lifecycleContext(store, this.options.rules, this.#sinks, () => this.#answers);
  }

  /**
   * Runs the rules' queries for a batch's firing alerts before the batch's
   * transaction (processing.ts), which reads the answers when it opens
   * incidents. Without a rule that has a query, nothing is read or parsed.
   */
  async #answerQueries(batch: readonly PendingNotification[]): Promise<void> {
    this.#answers = new Map();
    if (!this.options.rules.some((rule) => rule.query)) return;
    const alerts: Alert[] = [];
    for (const notification of batch) {
      try {
        // Kept on the notification, so the transaction does not parse it again.
        notification.alerts ??= alertsOf(notification.source, notification.body, notification.receivedAt);
        alerts.push(...notification.alerts);
      } catch {
        // Applying it reports why it cannot be (skipped).
      }
    }
    try {
      this.#answers = await answerRuleQueries(this.options.rules, alerts, async (fingerprint) => (await this.options.journal.findOpenIncident(fingerprint)) !== undefined);
    } catch (error) {
      // The rules with a query then match nothing in this batch, and their incidents' timelines say so.
      this.#report(`rule queries not run: ${describeFailure(error)}`);
    }
  }

  /** The core never prints: what it could not do is an event (serve renders it on stderr or as a JSON line). */
  #report(message: string, about: { incidentId?: number; notificationId?: number } = {}): void {
    this.#ctx.emit({ type: "heal.error", message, ...about }).catch(() => undefined);
  }

  /** The global kill switch, read from `store` (the journal, or the transaction deciding). */
  async isPaused(store: IncidentStore = this.options.journal): Promise<boolean> {
    return (await store.getSetting("paused")) === "true";
  }

  get runningRemediations(): number {
    return this.#remediations.running;
  }

  /**
   * Recovers from whatever stopped the last server, sparing the work of
   * replicas that are live: runs of processes that are gone are interrupted,
   * attempts they were running are decided by the rule's onInterrupted,
   * queued attempts are sent to the queue, unprocessed notifications are
   * processed, and every open incident that still owes work is reconsidered
   * (see #owesWork). Then the leader's sweeps start (on every replica; they
   * act only while it leads).
   */
  async start(): Promise<void> {
    await this.#remediations.started();
    const store = this.options.journal;
    const others = (await this.cluster.liveIn(store)).filter((r) => r.id !== this.cluster.id);
    // This process's own pid and host are not spared: a run recorded under them is its previous start's (a container's pid 1).
    await store.interruptRunningRuns({ except: others.map(({ pid, host }) => ({ pid, host })) });
    const live = new Set(others.map((r) => r.id));
    for (const attempt of await store.attemptsIn(["running", "verifying"])) {
      if (attempt.owner !== undefined && live.has(attempt.owner)) continue;
      await interruptAttempt(this.#sweepDeps(), attempt, { detail: "the server stopped during this attempt", escalation: `escalated: attempt ${attempt.attempt} was interrupted by a restart`, reconsider: false });
    }
    for (const attempt of await store.attemptsIn(["queued"])) {
      const rule = this.#rules.get(attempt.rule);
      if (rule) this.#remediations.launch(attempt.incidentId, rule, attempt.attempt);
    }
    await this.processPending();
    for (const incident of await store.listIncidents({ status: "open", limit: 100_000 })) if (incident.rule && (await this.#owesWork(incident.id))) await this.evaluate(incident.id);
    this.#sweeps.start();
  }

  /**
   * Cut off from the journal for nearly a ttl, the leader is about to count
   * this replica dead and take its attempts over: it cancels them first (their
   * commands stop where they run), so no runbook runs twice at once. Back,
   * it closes what it could not record meanwhile: its attempts it no longer
   * runs become interrupted (the rule's onInterrupted applies), their runs
   * too, and the gates decide again for the incidents it cancelled.
   */
  #connectionChanged(): void {
    if (!this.cluster.connected) {
      if (this.#remediations.running === 0) return;
      const incidents = this.#remediations.cancelRunning(`replica ${this.cluster.name} lost the journal for longer than its lease, and another replica takes the attempt over`);
      for (const id of incidents) this.#cutOff.add(id);
      if (incidents.length > 0) this.#report(`cut off from the journal: ${incidents.length} remediation${incidents.length === 1 ? "" : "s"} cancelled here before another replica takes ${incidents.length === 1 ? "it" : "them"} over`);
      return;
    }
    if (this.#cutOff.size === 0) return;
    const incidents = [...this.#cutOff];
    this.#cutOff.clear();
    void this.#closeCutOff(incidents).catch((error) => {
      for (const id of incidents) this.#cutOff.add(id);
      this.#report(`closing the attempts cancelled while cut off from the journal: ${describeFailure(error)}`);
    });
  }

  async #closeCutOff(incidents: readonly number[]): Promise<void> {
    const store = this.options.journal;
    const mine = (await store.attemptsIn(["running", "verifying"])).filter((a) => a.owner === this.cluster.id && !this.#remediations.active(a.incidentId));
    for (const attempt of mine) {
      if (attempt.runId && (await store.getRun(attempt.runId))?.run.status === "running") await store.finishRun(attempt.runId, "interrupted", { reason: "cancelled: this replica lost the journal" });
      await interruptAttempt(this.#sweepDeps(), attempt, {
        detail: `replica ${this.cluster.name} lost the journal during this attempt and cancelled it`,
        escalation: `escalated: attempt ${attempt.attempt} was interrupted: replica ${this.cluster.name} lost the journal`,
        reconsider: true,
      });
    }
    // An attempt whose own end was recorded (interrupted) before this: the gates decide what comes next.
    for (const id of incidents) if (!mine.some((a) => a.incidentId === id)) await this.evaluate(id);
  }

  #sweepDeps() {
    return { journal: this.options.journal, rules: this.#rules, context: (store: IncidentStore) => this.#context(store), remediations: this.#remediations, evaluate: (id: number) => this.evaluate(id) };
  }

  /** One pass of the leader's sweeps now (tests; they also run every second). */
  sweep(): Promise<void> {
    return this.#sweeps.sweep();
  }

  /**
   * Whether an open incident still owes a decision after a restart: one with
   * no attempt yet (held by a gate whose timer died with the last server), a
   * failed or interrupted attempt (the retry the gates promised). An attempt
   * that succeeded (or a dry run recorded) owes nothing: without a restart
   * nothing would run until the next notification, so nothing runs after one.
   */
  async #owesWork(incidentId: number): Promise<boolean> {
    const last = (await this.options.journal.attempts(incidentId)).at(-1);
    return last === undefined || (last.status !== "succeeded" && last.status !== "dry_run");
  }

  /** Journals a notification (and the alerts the caller parsed from it); resolves once it is durable. */
  accept(source: string, body: string, alerts?: Alert[]): Promise<number> {
    if (this.#stopping) return Promise.reject(new OpsError({ code: "E_STOPPING", message: "the server is shutting down", exitCode: ExitCode.interrupted }));
    return this.intake.accept(source, body, alerts);
  }

  /** Journals an alert raised by a check, through the same path as a webhook's. */
  acceptCheckAlert(alert: Alert): Promise<number> {
    return this.accept(checkSource.kind, checkNotificationBody(alert), [alert]);
  }

  #wake(): void {
    this.#processing.wake((error) => this.#report(`processing notifications: ${describeFailure(error)}`));
  }

  /** Processes every committed, unprocessed notification; resolves when none is left. */
  async processPending(): Promise<void> {
    this.#wake();
    await this.#processing.idle();
  }

  async #gate(ctx: LifecycleContext, incidentId: number, rule: string, gate: string, reason: string, until?: number): Promise<void> {
    // A wait already on the timeline (with its timer set) is not re-recorded on every repeat notification.
    if ((gate === "cooldown" || gate === "rateLimit") && this.#timers.has(incidentId)) return;
    await ctx.emit({ type: "incident.gate", incidentId, rule, gate, reason, ...(until !== undefined ? { until } : {}) });
  }

  /** Records a dedupe unless it is the one this incident's decisions recorded last. */
  async #dedupe(ctx: LifecycleContext, incidentId: number, rule: string, reason: string): Promise<undefined> {
    if (this.#deduped.get(incidentId) === reason) return undefined;
    this.#deduped.set(incidentId, reason);
    await this.#gate(ctx, incidentId, rule, "dedupe", reason);
    return undefined;
  }

  #retryAt(incidentId: number, at: number): void {
    if (this.#timers.has(incidentId) || this.#stopping) return;
    const timer = setTimeout(() => {
      this.#timers.delete(incidentId);
      void this.evaluate(incidentId);
    }, Math.min(MAX_WAIT_MS, Math.max(0, at - Date.now()) + 5));
    this.#timers.set(incidentId, timer);
  }

  /**
   * Decides, through every safety gate, whether the incident's rule runs now,
   * records the decision with its reason, and starts what it decided.
   */
  async evaluate(incidentId: number): Promise<void> {
    (await this.#evaluateIn(this.#ctx, incidentId))?.();
  }

  /**
   * A decision inside `ctx` (the journal, or a batch's transaction); what it
   * starts is returned, to run once that commits. `quiet` (the leader waking
   * an incident): a hold is not recorded again, its timer is set all the same.
   */
  async #evaluateIn(ctx: LifecycleContext, incidentId: number, quiet = false): Promise<Followup | undefined> {
    if (this.#stopping) return undefined;
    try {
      return await this.#decide(ctx, incidentId, quiet);
    } catch (error) {
      // The leader's fence refusing is the sweep's to handle.
      if (quiet && (error as { code?: unknown }).code === "E_FENCED") throw error;
      this.#report(`incident ${incidentId}: ${describeFailure(error)}`, { incidentId });
      return undefined;
    }
  }

  async #decide(ctx: LifecycleContext, incidentId: number, quiet: boolean): Promise<Followup | undefined> {
    // Decisions that cannot change until something else happens are kept in
    // memory: a repeat notification then costs no reads (an alert storm is
    // mostly repeats). A wait's timer re-evaluates when it ends.
    if (this.#timers.has(incidentId)) return undefined;
    const { store } = ctx;
    const incident = await store.getIncident(incidentId);
    if (!incident || incident.status !== "open" || !incident.rule || incident.escalated) return undefined;
    // An attempt this process runs: the journal has it active too, and the gates would hold (see Remediations' #active).
    const active = this.#remediations.active(incidentId);
    if (active) return this.#dedupe(ctx, incidentId, incident.rule, `deduplicated: attempt ${active.attempt} is ${active.status}`);
    const rule = this.#rules.get(incident.rule);
    if (!rule) {
      if (quiet) return undefined;
      await ctx.emit({ type: "rule.missing", incidentId, rule: incident.rule, at: Date.now() });
      return undefined;
    }
    const now = Date.now();
    const attempts = await store.attempts(incidentId);
    const silence = silencing(await store.listSilences({ endsAfter: now }), incident.labels, now);
    if (!silence) this.#silenced.delete(incidentId);
    const pausedBy = await store.getSetting("paused_by");
    const decision = decide({
      now,
      paused: await this.isPaused(store),
      ...(pausedBy !== undefined ? { pausedBy } : {}),
      ...(silence ? { silence } : {}),
      dryRun: this.options.dryRun,
      ruleName: rule.name,
      ruleState: await store.getRuleState(rule.name),
      attempts,
      maxAttempts: rule.rule.maxAttempts,
      approval: rule.rule.approval,
      lastStart: await store.lastAttemptStart(incident.fingerprint),
      cooldownMs: rule.cooldownMs,
      ...(rule.rateLimit ? { rateLimit: { ...rule.rateLimit, used: await store.countRuleAttemptsSince(rule.name, now - rule.rateLimit.perMs) } } : {}),
    });
    const next = Math.max(0, ...attempts.map((a) => a.attempt)) + 1;
    const attempt = (status: AttemptRecord["status"], detail?: string): AttemptRecord => ({ incidentId, attempt: next, rule: rule.name, fingerprint: incident.fingerprint, status, createdAt: now, ...(detail ? { detail } : {}) });
    const created = async (record: AttemptRecord) => {
      if (await createAttempt(store, record)) return true;
      await this.#gate(ctx, incidentId, rule.name, "dedupe", `deduplicated: attempt ${next} was created by a concurrent decision`);
      return false;
    };
    if (decision.action !== "hold") this.#deduped.delete(incidentId);
    switch (decision.action) {
      case "hold": {
        // An attempt under way elsewhere (another replica runs it, or it awaits approval): recorded once per status, like one run here.
        if (decision.gate === "dedupe") return this.#dedupe(ctx, incidentId, rule.name, decision.reason);
        this.#deduped.delete(incidentId);
        const { retryAt } = decision;
        if (silence && decision.gate === "silence") {
          if (!quiet && this.#silenced.get(incidentId) !== silence.id) {
            this.#silenced.set(incidentId, silence.id);
            const { id: silenceId, matchers, createdBy, comment, endsAt: until } = silence;
            await ctx.emit({ type: "incident.silenced", incidentId, rule: rule.name, silenceId, matchers, createdBy, comment, until, at: now });
          }
          return () => this.#retryAt(incidentId, silence.endsAt);
        }
        if (!quiet) await this.#gate(ctx, incidentId, rule.name, decision.gate, decision.reason, retryAt);
        return retryAt === undefined ? undefined : () => this.#retryAt(incidentId, retryAt);
      }
      case "escalate":
        return this.#remediations.escalate(ctx, incident, rule, decision.reason);
      case "dry_run": {
        const detail = describePlan(this.options.loaded, incident, rule);
        if (await created(attempt("dry_run", detail))) await this.#gate(ctx, incidentId, rule.name, "dryRun", `dry-run: would run ${detail}`);
        return undefined;
      }
      case "await_approval":
        if (await created(attempt("awaiting_approval"))) await this.#gate(ctx, incidentId, rule.name, "approval", `waiting: approval required for attempt ${next} (opskit incidents approve ${incidentId})`);
        return undefined;
      case "run":
        return (await created(attempt("queued"))) ? () => this.#remediations.launch(incidentId, rule, next) : undefined;
    }
  }

  /** `opskit incidents approve`: the attempt waiting for approval starts; `by` (who approved) goes on the timeline. */
  async approve(incidentId: number, by?: string): Promise<AttemptRecord> {
    const store = this.options.journal;
    const incident = await store.getIncident(incidentId);
    if (!incident) throw notFound(incidentId);
    const waiting = (await store.attempts(incidentId)).find((a) => a.status === "awaiting_approval");
    // Compare and set: of two approvals (or an approval and a resolve by hand) of one attempt, one wins.
    if (!waiting || !(await store.claimAttempt(incidentId, waiting.attempt, "awaiting_approval", { status: "queued" }))) throw nothingToApprove(incidentId);
    await this.#ctx.emit({ type: "remediation.approved", incidentId, rule: waiting.rule, attempt: waiting.attempt, at: Date.now(), ...(by !== undefined ? { by } : {}) });
    this.#remediations.launch(incidentId, this.#rules.get(waiting.rule)!, waiting.attempt);
    return { ...waiting, status: "queued" };
  }

  /**
   * Refuses the attempt waiting for approval (compare and set, as approve:
   * of an approval and a denial of one attempt, one wins). A refusal means
   * "not this, not by itself": were the incident left as it is, the next
   * notification would ask for approval again, so it is escalated, as when
   * the automation has no attempts left: nothing more starts on its own, the
   * rule's escalate steps tell the people who own it, and it stays open for
   * them to acknowledge and resolve.
   */
  async deny(incidentId: number, by: string, reason?: string): Promise<AttemptRecord> {
    const store = this.options.journal;
    const incident = await store.getIncident(incidentId);
    if (!incident) throw notFound(incidentId);
    const waiting = (await store.attempts(incidentId)).find((a) => a.status === "awaiting_approval");
    const finishedAt = Date.now();
    const detail = `denied by ${by}${reason ? `: ${reason}` : ""}`;
    if (!waiting || !(await store.claimAttempt(incidentId, waiting.attempt, "awaiting_approval", { status: "rejected", finishedAt, detail }))) throw nothingToApprove(incidentId, "deny");
    await this.#ctx.emit({ type: "remediation.denied", incidentId, rule: waiting.rule, attempt: waiting.attempt, by, ...(reason ? { reason } : {}), at: finishedAt });
    const current = (await store.getIncident(incidentId))!;
    (await this.#remediations.escalate(this.#ctx, current, this.#rules.get(waiting.rule), `escalated: attempt ${waiting.attempt} was ${detail}`))?.();
    return { ...waiting, status: "rejected", finishedAt, detail };
  }

  async acknowledge(incidentId: number, by: string): Promise<IncidentRecord> {
    const store = this.options.journal;
    const incident = await store.getIncident(incidentId);
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
    await recordMilestone(this.#ctx, incidentId, "acknowledged", Date.now(), `by ${by}`);
    return (await store.getIncident(incidentId))!;
  }

  async resolveByHand(incidentId: number, by: string, note?: string): Promise<IncidentRecord> {
    const store = this.options.journal;
    const incident = await store.getIncident(incidentId);
    if (!incident) throw notFound(incidentId);
    await resolveIncident(this.#ctx, incident, Date.now(), `resolved by hand (${by})${note ? `: ${note}` : ""}`);
    for (const attempt of (await store.attempts(incidentId)).filter((a) => a.status === "awaiting_approval")) {
      await store.claimAttempt(incidentId, attempt.attempt, "awaiting_approval", { status: "rejected", finishedAt: Date.now(), detail: "the incident was resolved by hand" });
    }
    return (await store.getIncident(incidentId))!;
  }

  /** The global kill switch; it survives restarts. `by`: who, said on the timelines of the incidents it holds. */
  async setPaused(paused: boolean, by?: string): Promise<void> {
    await this.options.journal.putSetting("paused", paused ? "true" : undefined);
    await this.options.journal.putSetting("paused_by", paused ? by : undefined);
    if (by !== undefined) await this.#ctx.emit({ type: "remediation.paused", paused, by, at: Date.now() });
    if (!paused) for (const incident of await this.options.journal.listIncidents({ status: "open", limit: 100_000 })) if (incident.rule) await this.evaluate(incident.id);
  }

  /**
   * Adds a silence (Alertmanager's rules: a matcher that does not match the
   * empty string, an end after its start and not in the past). Incidents it
   * matches are held from their next decision on; an attempt under way
   * finishes.
   */
  async addSilence(input: SilenceInput): Promise<SilenceRecord> {
    const silence = newSilence(input);
    await this.options.journal.createSilence(silence);
    const { id: silenceId, matchers, startsAt, endsAt, createdBy, comment, createdAt: at } = silence;
    await this.#ctx.emit({ type: "silence.created", silenceId, matchers, startsAt, endsAt, createdBy, comment, at });
    return silence;
  }

  /**
   * Expires a silence now; the open incidents it matched are decided again
   * at once: remediation proceeds for those whose alert still fires, as
   * Alertmanager resumes notifying. One that resolved meanwhile is closed
   * and runs nothing.
   */
  async expireSilence(id: string, by: string): Promise<SilenceRecord> {
    const store = this.options.journal;
    const silence = await store.getSilence(id);
    const now = Date.now();
    if (!silence) throw new OpsError({ code: "E_NOT_FOUND", message: `no silence ${id}`, hint: "opskit silence list --expired lists them", exitCode: ExitCode.usage });
    if (!(await store.expireSilence(id, now, by))) {
      throw new OpsError({ code: "E_SILENCE_EXPIRED", message: `silence ${id} has already expired`, hint: "opskit silence list shows the active ones", exitCode: ExitCode.usage });
    }
    await this.#ctx.emit({ type: "silence.expired", silenceId: id, by, at: now });
    await this.releaseSilenced(silence.matchers);
    return (await store.getSilence(id))!;
  }

  /** Decides again for the open incidents these matchers hold (a silence ended): their timers are cleared first. */
  async releaseSilenced(matchers: readonly SilenceMatcher[]): Promise<void> {
    for (const incident of await this.options.journal.listIncidents({ status: "open", limit: 100_000 })) {
      if (!incident.rule || !silenceMatches(matchers, incident.labels)) continue;
      const timer = this.#timers.get(incident.id);
      if (timer) clearTimeout(timer);
      this.#timers.delete(incident.id);
      this.#silenced.delete(incident.id);
      await this.evaluate(incident.id);
    }
  }

  /**
   * SIGTERM: accept nothing new, process what was accepted, let in-flight
   * runs finish within the grace period, then cancel them (they are recorded
   * as interrupted and the rule decides after the restart).
   */
  async drain(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    this.#stopping = true;
    await this.#sweeps.stop();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#processing.idle();
    return this.#remediations.drain(graceMs);
  }
}
