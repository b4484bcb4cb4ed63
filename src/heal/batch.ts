import type { IncidentStore } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { PendingNotification } from "./backlog.ts";
import { applyAlert, type LifecycleContext } from "./lifecycle.ts";
import { RepeatFold } from "./repeats.ts";
import { alertsOf } from "./sources/index.ts";

/** The most notifications one claim covers. */
const CLAIM_CHUNK = 64;

/** A notification applied without a savepoint failed: the batch's transaction must be rolled back, and the batch redone with a savepoint for it. */
export class NotificationFailed extends Error {
  constructor(
    readonly notification: PendingNotification,
    override readonly cause: unknown,
  ) {
    super(`notification ${notification.id} failed to apply: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

export interface ApplyOptions {
  /** performance.now() after which no more notifications are taken (at least one is applied). */
  deadline?: number;
  /** Claim each notification (claimNotifications) before it is applied; see applyNotifications. */
  claim?: boolean;
  /**
   * Whether a notification is applied in a savepoint of its own (the
   * default: every one). One applied without that fails the whole batch
   * with NotificationFailed: the caller rolls back and redoes the batch
   * with a savepoint for that notification.
   */
  guarded?: (notification: PendingNotification) => boolean;
}

/**
 * Applies a batch of notifications inside the batch's transaction, in id
 * order, until the deadline, and returns how many it applied and the
 * incidents whose remediation should be reconsidered.
 * Firing repeats fold in memory (repeats.ts); every other notification is
 * applied in a savepoint of its own (or, not `guarded`, optimistically), so
 * one that cannot be applied (a body an older version accepted, a bug) is
 * kept as received and skipped whole, and reported through `skipped`. A write
 * the fold owes that fails fails the batch: what it holds belongs to
 * notifications applied before.
 *
 * With `claim`, each notification is claimed (claimNotifications, inside the
 * caller's transaction) before it is applied, and one another replica claimed
 * first is passed over: of several replicas reading one journal, one applies
 * each notification. Claims go in chunks that double from one (the deadline
 * is looked at between chunks), so a transaction never claims what it has no
 * time left to apply: what it claims it applies, and a rollback undoes both.
 */
export async function applyNotifications(
  ctx: LifecycleContext,
  batch: readonly PendingNotification[],
  context: (store: IncidentStore) => LifecycleContext,
  skipped: (notification: PendingNotification, error: unknown) => void,
  options: ApplyOptions = {},
): Promise<{ applied: number; reconsider: Set<number> }> {
  const { deadline = Number.POSITIVE_INFINITY, claim = false, guarded = () => true } = options;
  const reconsider = new Set<number>();
  const repeats = new RepeatFold(ctx);
  let applied = 0;
  let claimed: ReadonlySet<number> | undefined;
  let chunkEnd = 0;
  for (const notification of batch) {
    if (applied === chunkEnd) {
      if (applied > 0 && performance.now() > deadline) break;
      const chunk = batch.slice(applied, applied + Math.min(CLAIM_CHUNK, Math.max(1, applied)));
      chunkEnd = applied + chunk.length;
      if (claim) claimed = new Set(await ctx.store.claimNotifications(chunk.map((n) => n.id)));
    }
    applied++;
    // Applied by another replica (both read it from the journal): passed over.
    if (claimed && !claimed.has(notification.id)) continue;
    let alerts: Alert[];
    try {
      alerts = notification.alerts ?? alertsOf(notification.source, notification.body, notification.receivedAt);
      const folded = await repeats.fold(alerts, notification.receivedAt);
      if (folded) {
        for (const id of folded) reconsider.add(id);
        continue;
      }
    } catch (error) {
      skipped(notification, error);
      continue;
    }
    await repeats.release(alerts.map((alert) => alert.fingerprint));
    const apply = async (applying: LifecycleContext) => {
      for (const alert of alerts) {
        const id = await applyAlert(applying, alert, notification.receivedAt);
        if (id !== undefined) reconsider.add(id);
      }
    };
    if (!guarded(notification)) {
      await apply(ctx).catch((error: unknown) => {
        throw new NotificationFailed(notification, error);
      });
      continue;
    }
    try {
      await ctx.store.transaction((savepoint) => apply(context(savepoint)));
    } catch (error) {
      skipped(notification, error);
    }
  }
  await repeats.write();
  return { applied, reconsider };
}
