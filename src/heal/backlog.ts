import type { AlertSourceKind, IncidentStore } from "../journal/index.ts";
import type { Alert } from "./alert.ts";

/** A committed notification waiting to be applied; `alerts` when whoever accepted it parsed them already. */
export interface PendingNotification {
  id: number;
  source: AlertSourceKind;
  receivedAt: number;
  body: string;
  alerts?: Alert[];
}

/**
 * The notifications committed and not yet processed, in id order. The
 * intake hands each commit's notifications over in memory, with the alerts
 * the webhook parsed, so processing neither reads their bodies back from the
 * journal nor parses them again. The journal keeps the last word: it is read
 * at start (what an earlier server left), after a batch that failed (its
 * notifications are still pending there), and whenever memory runs dry; and
 * whatever memory holds at or below the last id processed is dropped, so no
 * notification is applied twice, however the reads and the hand-overs
 * interleave.
 *
 * Memory is a cache that decides nothing: the claim each batch makes
 * (claimNotifications) is what keeps a notification from being applied twice
 * by replicas sharing the journal, and one dropped from memory while still
 * pending (ids of several replicas interleave) is read from the journal when
 * memory runs dry, or by the leader's sweep if its replica died.
 */
export class NotificationBacklog {
  #memory: PendingNotification[] = [];
  /** The highest id processed: ids grow with each commit, and batches go in id order. */
  #through = 0;
  #fromJournal = true;

  constructor(
    private readonly store: IncidentStore,
    private readonly limit: number,
  ) {}

  /** How many notifications memory holds (what the journal holds besides is not counted). */
  get size(): number {
    return this.#memory.length;
  }

  /** Notifications just committed, in id order. */
  add(committed: readonly PendingNotification[]): void {
    for (const notification of committed) this.#memory.push(notification);
  }

  /** The next batch to process, oldest first; empty when none is left. */
  async next(): Promise<PendingNotification[]> {
    if (!this.#fromJournal) {
      const stale = this.#memory.findIndex((n) => n.id > this.#through);
      if (stale !== 0) this.#memory.splice(0, stale < 0 ? this.#memory.length : stale);
      if (this.#memory.length > 0) return this.#memory.splice(0, this.limit);
    }
    const pending = await this.store.pendingNotifications(this.limit);
    if (pending.length === 0) this.#fromJournal = false;
    return pending;
  }

  /** The batch was committed as processed. */
  processed(batch: readonly PendingNotification[]): void {
    this.#through = Math.max(this.#through, batch.at(-1)?.id ?? 0);
  }

  /** What a batch left unapplied, to come first in the next (from memory; the journal holds them anyway). */
  requeue(rest: readonly PendingNotification[]): void {
    if (rest.length > 0 && !this.#fromJournal) this.#memory.unshift(...rest);
  }

  /** The batch was rolled back: its notifications are still pending in the journal, which is read until it has none. */
  failed(): void {
    this.#fromJournal = true;
  }
}
