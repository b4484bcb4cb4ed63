import type { Database } from "bun:sqlite";
import type { AlertStateRecord, IncidentRecord } from "./types.ts";

/** Fingerprints remembered at most; past it the memory starts over. */
const KEPT = 10_000;

type IncidentPatch = Partial<Pick<IncidentRecord, "status" | "attempts" | "escalated" | "automated" | "resolution" | "notifications" | "lastNotifiedAt" | "labels" | "annotations" | "rule">>;

/**
 * What the healer reads for every alert, remembered per fingerprint: its
 * alert state and its open incident (or that none is open). An alert storm
 * reads the same hundred fingerprints thousands of times, and each read cost
 * a SELECT and, for an incident, two JSON.parse: 15-30 µs, most of a
 * notification's processing. The memory follows every write this connection
 * makes to those rows (the store calls `wrote…` after each), starts over when
 * a transaction rolls back (`forget`) and when another connection has
 * committed since it was filled (PRAGMA data_version: another opskit process,
 * the sqlite3 shell), so a read answers what a SELECT would. Callers get
 * copies: what they change is theirs.
 */
export function fingerprintMemory(db: Database) {
  const dataVersion = db.prepare<{ data_version: number }, []>("PRAGMA data_version");
  let version = -1;
  /** Fingerprint → its open incident, or null when none is open. */
  const open = new Map<string, IncidentRecord | null>();
  const fingerprintOf = new Map<number, string>();
  /** Fingerprint → its alert state, or null when it has none. */
  const states = new Map<string, AlertStateRecord | null>();

  const forget = () => {
    open.clear();
    fingerprintOf.clear();
    states.clear();
  };
  /** Starts over when another connection committed since the last look. */
  const current = () => {
    const now = dataVersion.get()!.data_version;
    if (now !== version) {
      forget();
      version = now;
    }
  };
  const copy = (incident: IncidentRecord): IncidentRecord => ({ ...incident, milestones: { ...incident.milestones } });
  const keepIncident = (fingerprint: string, incident: IncidentRecord | undefined) => {
    if (open.size >= KEPT) forget();
    open.set(fingerprint, incident ?? null);
    if (incident) fingerprintOf.set(incident.id, fingerprint);
  };
  /** The remembered open incident with this id, if it is remembered. */
  const openWithId = (id: number): IncidentRecord | undefined => {
    const fingerprint = fingerprintOf.get(id);
    const incident = fingerprint === undefined ? undefined : open.get(fingerprint);
    return incident?.id === id ? incident : undefined;
  };

  return {
    forget,

    findOpenIncident(fingerprint: string, read: () => IncidentRecord | undefined): IncidentRecord | undefined {
      current();
      let incident = open.get(fingerprint);
      if (incident === undefined) {
        const found = read();
        keepIncident(fingerprint, found);
        incident = found ?? null;
      }
      return incident ? copy(incident) : undefined;
    },
    getIncident(id: number, read: () => IncidentRecord | undefined): IncidentRecord | undefined {
      current();
      const known = openWithId(id);
      if (known) return copy(known);
      const incident = read();
      // An open incident is the one open incident of its fingerprint (a unique key), so it can be remembered as such.
      if (incident?.status === "open") keepIncident(incident.fingerprint, incident);
      return incident;
    },
    wroteIncident(incident: IncidentRecord): void {
      keepIncident(incident.fingerprint, copy(incident));
    },
    /** Counting notifications on an incident changes what is remembered in place; any other change is read again next time. */
    patchedIncident(id: number, patch: IncidentPatch): void {
      const known = openWithId(id);
      if (!known) return;
      const counted = Object.keys(patch).every((key) => key === "notifications" || key === "lastNotifiedAt");
      if (counted) Object.assign(known, patch);
      else open.delete(known.fingerprint);
    },
    setMilestone(id: number, milestone: keyof IncidentRecord["milestones"], at: number): void {
      const known = openWithId(id);
      if (known) known.milestones[milestone] ??= at;
    },
    failedToOpen(fingerprint: string): void {
      open.delete(fingerprint);
    },

    getAlertState(fingerprint: string, read: () => AlertStateRecord | undefined): AlertStateRecord | undefined {
      current();
      let state = states.get(fingerprint);
      if (state === undefined) {
        state = read() ?? null;
        if (states.size >= KEPT) forget();
        states.set(fingerprint, state);
      }
      return state ? { ...state } : undefined;
    },
    wroteAlertState(state: AlertStateRecord): void {
      const { endsAt, incidentId, ...rest } = state;
      if (states.size >= KEPT) forget();
      // As a SELECT gives it back: absent fields, not undefined ones.
      states.set(state.fingerprint, { ...rest, ...(endsAt !== undefined ? { endsAt } : {}), ...(incidentId !== undefined ? { incidentId } : {}) });
    },
  };
}
