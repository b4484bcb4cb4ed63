import type { AlertSourceKind, IncidentStore } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { PendingNotification } from "./backlog.ts";

interface Waiting {
  source: AlertSourceKind;
  receivedAt: number;
  body: string;
  alerts: Alert[] | undefined;
  resolve(id: number): void;
  reject(error: unknown): void;
}

/**
 * Commits notifications to the journal before their 2xx, with group commit:
 * every request that arrives in the same turn of the event loop shares one
 * transaction. One commit per request caps an alert storm at the disk's
 * transaction rate; one per turn keeps the guarantee and the throughput.
 */
export class NotificationIntake {
  #waiting: Waiting[] = [];
  #scheduled = false;
  #accepted = 0;

  constructor(
    private readonly store: IncidentStore,
    /** Called after each commit with what it committed (and the alerts already parsed), so processing can start. */
    private readonly committed: (batch: PendingNotification[]) => void,
  ) {}

  /** Resolves with the notification's id once it is durable. `alerts`, when the caller parsed them already, spares processing a second parse. */
  accept(source: AlertSourceKind, body: string, alerts?: Alert[], receivedAt = Date.now()): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ source, receivedAt, body, alerts, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  /** Notifications committed since start. */
  get accepted(): number {
    return this.#accepted;
  }

  async #flush(): Promise<void> {
    const batch = this.#waiting;
    this.#waiting = [];
    this.#scheduled = false;
    if (batch.length === 0) return;
    let ids: number[];
    try {
      ids = await this.store.acceptNotifications(batch.map(({ source, receivedAt, body }) => ({ source, receivedAt, body })));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    this.#accepted += batch.length;
    this.committed(batch.map(({ source, receivedAt, body, alerts }, i) => ({ id: ids[i]!, source, receivedAt, body, ...(alerts ? { alerts } : {}) })));
    batch.forEach((waiting, i) => waiting.resolve(ids[i]!));
  }
}
