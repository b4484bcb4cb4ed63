import type { IncidentStore } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { PendingNotification } from "./backlog.ts";
import { applyAlert, type LifecycleContext } from "./lifecycle.ts";
import { RepeatFold } from "./repeats.ts";
import { alertsOf } from "./sources/index.ts";

/**
 * Applies a batch of notifications inside the batch's transaction, in id
 * order, until `deadline` (performance.now(); at least one is applied), and
 * returns how many it applied and the incidents whose remediation should be
 * reconsidered.
 * Firing repeats fold in memory (repeats.ts); every other notification takes
 * a savepoint of its own, so one that cannot be applied (a body an older
 * version accepted, a bug) is kept as received and skipped whole, and
 * reported through `skipped`. A write the fold owes that fails fails the
 * batch: what it holds belongs to notifications applied before.
 */
export async function applyNotifications(
  ctx: LifecycleContext,
  batch: readonly PendingNotification[],
  context: (store: IncidentStore) => LifecycleContext,
  skipped: (notification: PendingNotification, error: unknown) => void,
  deadline = Number.POSITIVE_INFINITY,
): Promise<{ applied: number; reconsider: Set<number> }> {
  const reconsider = new Set<number>();
  const repeats = new RepeatFold(ctx);
  let applied = 0;
  for (const notification of batch) {
    if (applied > 0 && performance.now() > deadline) break;
    applied++;
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
    try {
      await ctx.store.transaction(async (savepoint) => {
        const applying = context(savepoint);
        for (const alert of alerts) {
          const id = await applyAlert(applying, alert, notification.receivedAt);
          if (id !== undefined) reconsider.add(id);
        }
      });
    } catch (error) {
      skipped(notification, error);
    }
  }
  await repeats.write();
  return { applied, reconsider };
}
