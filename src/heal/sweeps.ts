import type { Cluster } from "../cluster/index.ts";
import type { AttemptRecord, IncidentStore, Journal } from "../journal/index.ts";
import { formatMs } from "../ui/index.ts";
import { activeAttemptStatuses } from "./gates.ts";
import { resolveIncident, type LifecycleContext } from "./lifecycle.ts";
import { describeFailure, remediationKey, type Followup, type Remediations } from "./remediations.ts";
import type { CompiledRule } from "./rules.ts";

/** How often the leader sweeps. Takeover of a dead replica's attempt is its silence (the ttl) plus at most this. */
const SWEEP_MS = 1000;
/** A notification still pending this long after it was received was left by a replica that died before processing it. */
const ORPHAN_AFTER_MS = 5000;
/** A queued attempt older than this that nobody runs is sent to the queue again (its sender may have died before sending). */
const QUEUED_AFTER_MS = 5000;
/** At most one resend of an attempt this often: a queue holds one job per key, so a resend of one still waiting is a no-op, but not free. */
const RESEND_EVERY_MS = 30_000;
/** The sweeps that read every open incident run when leadership is gained, when a replica leaves the live set, and at least this often. */
const FULL_EVERY_MS = 60_000;
/** A replica silent this long is forgotten (its row removed); the cluster API lists live replicas only. */
const FORGET_AFTER_MS = 10 * 60_000;

export interface SweepDeps {
  journal: Journal;
  cluster: Cluster;
  rules: ReadonlyMap<string, CompiledRule>;
  remediations: Remediations;
  staleAfterMs: number;
  context(store: IncidentStore): LifecycleContext;
  /** Decides for an incident inside `ctx` without recording a hold again (the decision that set the wait recorded it). */
  decideQuietly(ctx: LifecycleContext, incidentId: number): Promise<Followup | undefined>;
  evaluate(incidentId: number): Promise<void>;
  /** Whether this process already waits on the incident (a timer, or an attempt it runs): nothing for a sweep to wake. */
  waiting(incidentId: number): boolean;
  paused(): Promise<boolean>;
  /** Processing looks at the journal's pending notifications (it reads them when its memory has none). */
  wakeProcessing(): void;
  report(message: string): void;
}

export interface InterruptOptions {
  /** A leader sweep passes its cluster: the change commits only while it leads. */
  fence?: Cluster;
  detail: string;
  /** The escalation's reason under onInterrupted: escalate. */
  escalation: string;
  /** The replica that was running it, when another replica takes it over. */
  replica?: string;
  /** Under onInterrupted: retry, reconsider the incident at once (the gates decide the next attempt). */
  reconsider: boolean;
}

/**
 * Marks an attempt whose executor is gone interrupted, and applies its rule's
 * onInterrupted: escalate, or let the gates decide the next attempt. A compare
 * and set from the status it was read in: of a restarting replica and the
 * leader finding it at once, one does it.
 */
export async function interruptAttempt(deps: Pick<SweepDeps, "journal" | "rules" | "context" | "remediations" | "evaluate">, attempt: AttemptRecord, options: InterruptOptions): Promise<void> {
  const at = Date.now();
  const rule = deps.rules.get(attempt.rule);
  const onInterrupted = rule?.rule.onInterrupted === "escalate" ? "escalate" : "retry";
  const { incidentId } = attempt;
  const followup = await deps.journal.transaction(async (tx): Promise<Followup | undefined> => {
    if (options.fence) await options.fence.fence(tx);
    if (!(await tx.claimAttempt(incidentId, attempt.attempt, attempt.status, { status: "interrupted", finishedAt: at, detail: options.detail }))) return undefined;
    const ctx = deps.context(tx);
    await ctx.emit({ type: "remediation.interrupted", incidentId, rule: attempt.rule, attempt: attempt.attempt, onInterrupted, at, ...(options.replica ? { replica: options.replica } : {}) });
    if (onInterrupted === "escalate") {
      const incident = await tx.getIncident(incidentId);
      return incident && rule ? deps.remediations.escalate(ctx, incident, rule, options.escalation) : undefined;
    }
    return options.reconsider ? () => void deps.evaluate(incidentId) : undefined;
  });
  followup?.();
}

/**
 * What only the leader does, each action in a transaction that first passes
 * the fence (a paused leader whose lease another took commits none of it):
 * takes over the attempts and runs of replicas that died, sends again queued
 * attempts nobody runs, has notifications a dead replica left processed,
 * closes stale incidents, and wakes incidents whose wait ended on a replica
 * that died with its timer.
 */
export class LeaderSweeps {
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<void> | undefined;
  #led = false;
  #live = new Set<string>();
  #lastFull = 0;
  #lastStale = 0;
  #failing = false;
  #steady = false;
  readonly #resent = new Map<string, number>();
  readonly #staleEveryMs: number;

  constructor(private readonly deps: SweepDeps) {
    this.#staleEveryMs = Math.max(1000, Math.min(deps.staleAfterMs / 4, 60_000));
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.#timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }

  /** One pass (a no-op on a replica that does not lead). */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #sweep(): Promise<void> {
    const { cluster } = this.deps;
    if (!cluster.isLeader) {
      this.#led = false;
      return;
    }
    const now = Date.now();
    const live = new Set(cluster.live().map((r) => r.id));
    const lost = [...this.#live].some((id) => !live.has(id));
    this.#live = live;
    const full = !this.#led || lost || now - this.#lastFull >= FULL_EVERY_MS || (cluster.steady && !this.#steady);
    this.#steady = cluster.steady;
    this.#led = true;
    try {
      // Taking over needs a leader that has heard every live replica since its own last miss (Cluster.steady).
      const steady = cluster.steady;
      if (full && steady) await this.#interruptRuns();
      if (steady) await this.#takeOver();
      await this.#resendQueued(now);
      await this.#adoptOrphans(now);
      if (now - this.#lastStale >= this.#staleEveryMs) {
        this.#lastStale = now;
        await this.#closeStale(now);
      }
      if (full) {
        this.#lastFull = now;
        await this.#wakeUp();
        await this.#forgetDead(now);
      }
      this.#failing = false;
    } catch (error) {
      // Losing the lease mid-sweep is the fence doing its work; a journal that fails is said once, not every second.
      if ((error as { code?: unknown }).code === "E_FENCED" || this.#failing) return;
      this.#failing = true;
      this.deps.report(`leader sweep: ${describeFailure(error)}`);
    }
  }

  /** Remediation runs still "running" whose process is no replica that is live. */
  async #interruptRuns(): Promise<void> {
    const { journal, cluster } = this.deps;
    await journal.transaction(async (tx) => {
      await cluster.fence(tx);
      const live = await cluster.liveIn(tx);
      await tx.interruptRunningRuns({ except: live.map(({ pid, host }) => ({ pid, host })) });
    });
  }

  /** Attempts running or verifying on a replica that is not live: interrupted, then the rule's onInterrupted. */
  async #takeOver(): Promise<void> {
    const { journal, cluster } = this.deps;
    const attempts = await journal.attemptsIn(["running", "verifying"]);
    if (attempts.length === 0) return;
    const live = new Set((await cluster.liveIn(journal)).map((r) => r.id));
    const orphaned = attempts.filter((a) => a.owner === undefined || !live.has(a.owner));
    if (orphaned.length === 0) return;
    // Their runs first, so what the retry continues is recorded as cut off.
    await this.#interruptRuns();
    const names = new Map((await journal.replicas()).map((r) => [r.id, r.name]));
    for (const attempt of orphaned) {
      const who = attempt.owner === undefined ? "its server" : `replica ${names.get(attempt.owner) ?? attempt.owner}`;
      await interruptAttempt(this.deps, attempt, {
        fence: cluster,
        detail: `${who} stopped during this attempt`,
        escalation: `escalated: attempt ${attempt.attempt} was interrupted: ${who} stopped`,
        ...(attempt.owner !== undefined ? { replica: names.get(attempt.owner) ?? attempt.owner } : {}),
        reconsider: true,
      });
    }
  }

  async #resendQueued(now: number): Promise<void> {
    const { journal, rules, remediations } = this.deps;
    const queued = await journal.attemptsIn(["queued"]);
    for (const [key, at] of this.#resent) if (at <= now - RESEND_EVERY_MS) this.#resent.delete(key);
    for (const attempt of queued) {
      const key = remediationKey(attempt.incidentId, attempt.attempt);
      const rule = rules.get(attempt.rule);
      if (!rule || attempt.createdAt > now - QUEUED_AFTER_MS || this.#resent.has(key)) continue;
      this.#resent.set(key, now);
      remediations.launch(attempt.incidentId, rule, attempt.attempt);
    }
  }

  async #adoptOrphans(now: number): Promise<void> {
    const [orphan] = await this.deps.journal.pendingNotifications(1, { receivedBefore: now - ORPHAN_AFTER_MS });
    if (orphan) this.deps.wakeProcessing();
  }

  async #closeStale(now: number): Promise<void> {
    const { journal, cluster, staleAfterMs } = this.deps;
    for (const incident of await journal.listIncidents({ status: "open", limit: 100_000 })) {
      if (now - incident.lastNotifiedAt < staleAfterMs) continue;
      await journal.transaction(async (tx) => {
        await cluster.fence(tx);
        const current = await tx.getIncident(incident.id);
        if (!current || current.status !== "open" || now - current.lastNotifiedAt < staleAfterMs) return;
        if ((await tx.attempts(incident.id)).some((a) => activeAttemptStatuses.includes(a.status))) return;
        await resolveIncident(this.deps.context(tx), current, now, `stale: no notification for ${formatMs(staleAfterMs)}`);
      });
    }
  }

  /**
   * Open incidents that owe a decision nobody here waits for: no attempt yet,
   * or a failed or interrupted one (the retry the gates promised). Their
   * cooldown's or rate limit's timer may have died with the replica that set
   * it; deciding again quietly either runs what is owed or sets the timer here.
   */
  async #wakeUp(): Promise<void> {
    const { journal, cluster } = this.deps;
    if (await this.deps.paused()) return;
    for (const incident of await journal.listIncidents({ status: "open", limit: 100_000 })) {
      if (!incident.rule || incident.escalated || this.deps.waiting(incident.id)) continue;
      const last = (await journal.attempts(incident.id)).at(-1);
      if (last && last.status !== "failed" && last.status !== "interrupted") continue;
      const followup = await journal.transaction(async (tx) => {
        await cluster.fence(tx);
        return this.deps.decideQuietly(this.deps.context(tx), incident.id);
      });
      followup?.();
    }
  }

  async #forgetDead(now: number): Promise<void> {
    const { journal, cluster } = this.deps;
    const dead = (await journal.replicas()).filter((r) => r.id !== cluster.id && r.seenAt < now - FORGET_AFTER_MS);
    if (dead.length === 0) return;
    await journal.transaction(async (tx) => {
      await cluster.fence(tx);
      for (const replica of dead) await tx.removeReplica(replica.id);
    });
  }
}
