import type { IncidentStore, Journal } from "../journal/index.ts";
import { NotificationBacklog, type PendingNotification } from "./backlog.ts";
import { applyNotifications, NotificationFailed } from "./batch.ts";
import type { LifecycleContext } from "./lifecycle.ts";
import type { Followup } from "./remediations.ts";

const PROCESS_BATCH = 1000;
/**
 * Under a storm, a batch of ~40 notifications over 100 fingerprints folds
 * almost no repeat (repeats.ts folds within a batch) and pays a batch's fixed
 * cost for few alerts. When a batch follows, within STORM_GAP_MS, one that
 * applied STORM_BATCH notifications or more, processing lets the backlog
 * gather: it waits for the next commit of notifications, at most
 * GATHER_WAIT_MS each, until it holds GATHER or GATHER_MS have passed. A
 * notification after a quiet spell, or after a few others, is processed at
 * once.
 */
const STORM_GAP_MS = 10;
const STORM_BATCH = 32;
const GATHER = 400;
const GATHER_WAIT_MS = 3;
const GATHER_MS = 8;
/**
 * The work one batch's transaction does before it commits, unless the
 * journal says otherwise (Journal.batching). SQLite is synchronous, so a
 * batch holds the event loop from start to commit: no request is answered
 * meanwhile. Opening a hundred incidents at a storm's start took 25-40 ms in
 * one batch; sliced, requests get in every few ms.
 */
const SLICE_MS = 3;

export interface ProcessingDeps {
  journal: Journal;
  context(store: IncidentStore): LifecycleContext;
  /** Work a batch needs done before its transaction, which must not wait on the network (the rules' queries). */
  prepare?(batch: readonly PendingNotification[]): Promise<void>;
  /** Decides for an incident inside `ctx`; what it starts is returned, to run once that commits. */
  decide(ctx: LifecycleContext, incidentId: number): Promise<Followup | undefined>;
  /** After each committed batch (the notifications.processed event). */
  processed(count: number, oldestReceivedAt: number): Promise<void>;
  /** A batch's transaction rolled back: what it recorded is undone. */
  rolledBack(): void;
  skipped(notification: PendingNotification, error: unknown): void;
  /** The slice's length; the journal's (or SLICE_MS) unless a test wants another. */
  sliceMs?: number;
}

/**
 * Turns committed notifications into incidents and decisions, after their
 * 2xx: batch by batch, each batch one transaction that applies notifications
 * in id order and then decides for the incidents they touched, within a
 * slice of time; what a slice leaves (notifications, decisions owed) goes
 * first into the next.
 */
export class NotificationProcessing {
  readonly backlog: NotificationBacklog;
  /** Incidents touched by applied notifications and not yet decided for. */
  readonly #reconsider = new Set<number>();
  #running: Promise<void> | undefined;
  #again = false;
  /** When the last batch committed (performance.now()), and how many notifications it applied. */
  #lastBatch = Number.NEGATIVE_INFINITY;
  #lastApplied = 0;
  /** Resolves the gathering's wait for the next commit. */
  #arrived: (() => void) | undefined;
  /** Notifications that failed when applied without a savepoint: applied in one of their own from then on. */
  readonly #suspects = new Set<number>();

  constructor(private readonly deps: ProcessingDeps) {
    this.backlog = new NotificationBacklog(deps.journal, PROCESS_BATCH);
  }

  /** Starts processing, or has the run under way look again when it is done. */
  wake(onError: (error: unknown) => void): void {
    this.#arrived?.();
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop()
      .catch(onError)
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Resolves once nothing is being processed. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      for (;;) {
        await this.#gather();
        const batch = await this.backlog.next();
        if (batch.length === 0 && this.#reconsider.size === 0) break;
        if (batch.length > 0) await this.deps.prepare?.(batch);
        let outcome: { applied: number; decided: number[]; followups: Followup[] };
        try {
          outcome = await this.deps.journal.transaction((tx) => this.#slice(tx, batch));
        } catch (error) {
          this.deps.rolledBack();
          if (!(error instanceof NotificationFailed)) {
            this.backlog.failed();
            throw error;
          }
          // Rolled back whole: the batch is redone, that notification in a savepoint (skipped if it fails again).
          this.#suspects.add(error.notification.id);
          this.backlog.requeue(batch);
          continue;
        }
        const applied = batch.slice(0, outcome.applied);
        for (const notification of applied) this.#suspects.delete(notification.id);
        this.backlog.processed(applied);
        this.backlog.requeue(batch.slice(outcome.applied));
        for (const id of outcome.decided) this.#reconsider.delete(id);
        this.#lastBatch = performance.now();
        this.#lastApplied = applied.length;
        for (const followup of outcome.followups) followup();
        if (applied.length > 0) await this.deps.processed(applied.length, applied[0]!.receivedAt);
        // Let requests in between batches: processing must not starve the webhook.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } while (this.#again);
  }

  /** Under a storm, waits for the backlog to gather (see GATHER). */
  async #gather(): Promise<void> {
    const start = performance.now();
    if (this.#lastApplied < STORM_BATCH || start - this.#lastBatch > STORM_GAP_MS) return;
    while (this.backlog.size > 0 && this.backlog.size < GATHER && performance.now() - start < GATHER_MS) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arrived = await new Promise<boolean>((resolve) => {
        this.#arrived = () => resolve(true);
        timer = setTimeout(() => resolve(false), GATHER_WAIT_MS);
      });
      clearTimeout(timer);
      this.#arrived = undefined;
      if (!arrived) return;
    }
  }

  /** One transaction's work: notifications, then decisions, each at least one and then as many as the slice allows. */
  async #slice(tx: IncidentStore, batch: PendingNotification[]): Promise<{ applied: number; decided: number[]; followups: Followup[] }> {
    const { batching } = this.deps.journal;
    const deadline = performance.now() + (this.deps.sliceMs ?? batching?.sliceMs ?? SLICE_MS);
    const ctx = this.deps.context(tx);
    const guarded = batching?.optimistic ? (n: PendingNotification) => this.#suspects.has(n.id) : undefined;
    // Claimed as they are applied: another replica reading the same journal may have applied some.
    const { applied, reconsider } = await applyNotifications(ctx, batch, this.deps.context, this.deps.skipped, { deadline, claim: true, ...(guarded ? { guarded } : {}) });
    for (const id of reconsider) this.#reconsider.add(id);
    const decided: number[] = [];
    const followups: Followup[] = [];
    for (const id of this.#reconsider) {
      if (decided.length > 0 && performance.now() > deadline) break;
      decided.push(id);
      const followup = await this.deps.decide(ctx, id);
      if (followup) followups.push(followup);
    }
    return { applied, decided, followups };
  }
}
