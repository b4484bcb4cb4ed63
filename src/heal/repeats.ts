import type { AlertStateRecord, IncidentRecord } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { LifecycleContext } from "./lifecycle.ts";

interface Fingerprint {
  state: AlertStateRecord | undefined;
  /** The open incident, with the repeats folded so far counted in. */
  incident: IncidentRecord | undefined;
  /** Repeats folded here and not yet written. */
  dirty: boolean;
}

/**
 * An alert storm is mostly repeats: a firing alert whose incident is open
 * already, which applyAlert (lifecycle.ts) counts with two reads and two
 * writes, in a savepoint of its own. Within one batch's transaction, nothing
 * but the batch changes a fingerprint's alert state or open incident (the
 * journal's transactions do not interleave, whichever replica runs them:
 * journal/types.ts), so the
 * fold reads them once, counts repeats in memory and writes each once
 * (write), with the rows and the events applying them one by one gives:
 * the same count, last notification time and alert state, the same
 * alert.received events in the same order. Anything else (an incident to
 * open, a resolve, a late firing) takes applyAlert's path; the fold writes and
 * forgets that fingerprint first (release), and reads it again after.
 */
export class RepeatFold {
  readonly #fingerprints = new Map<string, Fingerprint>();

  constructor(private readonly ctx: LifecycleContext) {}

  /**
   * Applies a notification's alerts if every one is a firing repeat, and
   * returns the incidents whose remediation should be reconsidered; undefined
   * (nothing applied) when one is not. What it applied is undone in memory
   * when an event's sink fails, as a savepoint would be.
   */
  async fold(alerts: readonly Alert[], receivedAt: number): Promise<number[] | undefined> {
    for (const alert of alerts) if (!this.#foldable(alert, await this.#read(alert.fingerprint))) return undefined;
    const before = alerts.map((alert) => [alert.fingerprint, { ...this.#fingerprints.get(alert.fingerprint)! }] as const);
    const reconsider: number[] = [];
    try {
      for (const alert of alerts) {
        const id = await this.#repeat(alert, receivedAt);
        if (id !== undefined) reconsider.push(id);
      }
    } catch (error) {
      for (const [fingerprint, entry] of before.reverse()) this.#fingerprints.set(fingerprint, entry);
      throw error;
    }
    return reconsider;
  }

  /** Writes what was folded for these fingerprints and forgets them: applyAlert is about to read and change them. */
  async release(fingerprints: Iterable<string>): Promise<void> {
    for (const fingerprint of fingerprints) {
      const entry = this.#fingerprints.get(fingerprint);
      if (!entry) continue;
      this.#fingerprints.delete(fingerprint);
      if (entry.dirty) await this.#write(entry);
    }
  }

  /** Writes every fingerprint's folded repeats; the fold is empty after. */
  async write(): Promise<void> {
    await this.release([...this.#fingerprints.keys()]);
  }

  async #read(fingerprint: string): Promise<Fingerprint> {
    let entry = this.#fingerprints.get(fingerprint);
    if (!entry) {
      const { store } = this.ctx;
      entry = { state: await store.getAlertState(fingerprint), incident: await store.findOpenIncident(fingerprint), dirty: false };
      this.#fingerprints.set(fingerprint, entry);
    }
    return entry;
  }

  /** applyFiring's repeat: neither the late firing of a resolved episode, nor the first of an incident. */
  #foldable(alert: Alert, entry: Fingerprint): boolean {
    if (alert.status !== "firing" || !entry.incident) return false;
    return !(entry.state?.status === "resolved" && entry.state.startsAt === alert.startsAt);
  }

  async #repeat(alert: Alert, receivedAt: number): Promise<number | undefined> {
    const entry = this.#fingerprints.get(alert.fingerprint)!;
    const incident = { ...entry.incident!, notifications: entry.incident!.notifications + 1, lastNotifiedAt: receivedAt };
    entry.incident = incident;
    entry.state = { fingerprint: alert.fingerprint, status: "firing", startsAt: alert.startsAt, incidentId: incident.id, updatedAt: receivedAt };
    entry.dirty = true;
    const alertname = alert.labels.alertname ?? alert.labels.check ?? "alert";
    await this.ctx.emit({ type: "alert.received", source: alert.source, fingerprint: alert.fingerprint, status: "firing", alertname, outcome: "repeat", receivedAt, incidentId: incident.id });
    return incident.rule ? incident.id : undefined;
  }

  async #write(entry: Fingerprint): Promise<void> {
    const { store } = this.ctx;
    const incident = entry.incident!;
    await store.updateIncident(incident.id, { notifications: incident.notifications, lastNotifiedAt: incident.lastNotifiedAt });
    await store.putAlertState(entry.state!);
  }
}
