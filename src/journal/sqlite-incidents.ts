import type { Database } from "bun:sqlite";
import { ExitCode, OpsError } from "../errors.ts";
import { attemptPatchColumns, incidentPatchColumns, milestoneColumn as column } from "./columns.ts";
import { incidentAlreadyOpen } from "./errors.ts";
import type { Synchronous } from "./sqlite-async.ts";
import { fingerprintMemory } from "./sqlite-fingerprints.ts";
import { milestones } from "./types.ts";
import type {
  AlertSourceKind, AlertStateRecord, AttemptRecord, IncidentEventKind, IncidentEventRecord, IncidentFilter, IncidentRecord,
  IncidentStore, NotificationRecord, RuleStateRecord,
} from "./types.ts";

/**
 * Incident tables. Times are epoch ms in INTEGER columns; each milestone has
 * its own column, and service/severity/alertname are copied out of the labels,
 * so MTTR and its phases aggregate in SQL over indexed columns.
 */
export const incidentSchema = `
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body TEXT NOT NULL,
  processed INTEGER NOT NULL DEFAULT 0
);
-- Only the backlog is indexed, so the index stays small however large the table grows.
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (id) WHERE processed = 0;
CREATE TABLE IF NOT EXISTS alert_states (
  fingerprint TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER,
  incident_id INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fingerprint TEXT NOT NULL,
  status TEXT NOT NULL,
  title TEXT NOT NULL,
  source TEXT NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  rule TEXT,
  service TEXT,
  severity TEXT,
  alertname TEXT,
  started_at INTEGER,
  detected_at INTEGER,
  remediation_started_at INTEGER,
  remediated_at INTEGER,
  verified_at INTEGER,
  resolved_at INTEGER,
  escalated_at INTEGER,
  acknowledged_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  escalated INTEGER NOT NULL DEFAULT 0,
  automated INTEGER NOT NULL DEFAULT 0,
  resolution TEXT,
  notifications INTEGER NOT NULL DEFAULT 0,
  last_notified_at INTEGER NOT NULL
);
-- At most one open incident per fingerprint, whatever races the callers run.
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_fingerprint ON incidents (fingerprint) WHERE status = 'open';
-- A fingerprint's history (resolved incidents too), which the partial index above cannot serve.
CREATE INDEX IF NOT EXISTS incidents_fingerprint ON incidents (fingerprint);
CREATE INDEX IF NOT EXISTS incidents_started ON incidents (started_at);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status);
-- MTTR's index over (service, started_at) and the milestones is incidents_mttr (sqlite-mttr.ts).
CREATE TABLE IF NOT EXISTS incident_events (
  incident_id INTEGER NOT NULL REFERENCES incidents (id),
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  data TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (incident_id, seq)
);
CREATE TABLE IF NOT EXISTS remediation_attempts (
  incident_id INTEGER NOT NULL REFERENCES incidents (id),
  attempt INTEGER NOT NULL,
  rule TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status TEXT NOT NULL,
  run_id TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  detail TEXT,
  PRIMARY KEY (incident_id, attempt)
);
CREATE INDEX IF NOT EXISTS attempts_fingerprint ON remediation_attempts (fingerprint, started_at);
CREATE INDEX IF NOT EXISTS attempts_rule ON remediation_attempts (rule, started_at);
CREATE INDEX IF NOT EXISTS attempts_status ON remediation_attempts (status);
CREATE TABLE IF NOT EXISTS rule_states (
  rule TEXT PRIMARY KEY,
  consecutive_failures INTEGER NOT NULL,
  disabled_at INTEGER,
  disabled_reason TEXT
);
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;


type Row = Record<string, unknown>;
type Params = Record<string, string | number | null>;

function encode(value: unknown): string | number | null {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return value as string | number | null;
}

/** `col = $field, …` for the fields present in the patch; undefined means "leave as is". */
function setList(columns: Record<string, string>, patch: Record<string, unknown>, values: Params): string[] {
  const sets: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    if (patch[field] === undefined) continue;
    sets.push(`${column} = $${field}`);
    values[field] = encode(patch[field]);
  }
  return sets;
}

/** Columns copied out of the labels, so reports group by them in SQL. */
function labelColumns(labels: Record<string, string>): Params {
  return { service: labels.service ?? null, severity: labels.severity ?? null, alertname: labels.alertname ?? null };
}

const incidentFilters = { status: "status = $status", fingerprint: "fingerprint = $fingerprint", since: "started_at >= $since" } as const;

function incidentWhere(filter: IncidentFilter): { where: string; values: Params } {
  const given = (Object.keys(incidentFilters) as (keyof typeof incidentFilters)[]).filter((key) => filter[key] !== undefined);
  const where = given.length > 0 ? `WHERE ${given.map((key) => incidentFilters[key]).join(" AND ")}` : "";
  return { where, values: Object.fromEntries(given.map((key) => [key, filter[key]!])) };
}

/** A row selected with the record's field names as aliases becomes the record: NULL columns are absent optional fields. */
export function record<T>(row: Row): T {
  for (const key in row) if (row[key] === null) delete row[key];
  return row as T;
}

export function toIncident(row: Row): IncidentRecord {
  const { id, fingerprint, status, title, source, rule, attempts, resolution, notifications, last_notified_at: lastNotifiedAt } = row;
  const times = Object.fromEntries(milestones.filter((m) => row[column(m)] !== null).map((m) => [m, row[column(m)]]));
  const [labels, annotations] = [JSON.parse(row.labels as string), JSON.parse(row.annotations as string)];
  const [escalated, automated] = [row.escalated === 1, row.automated === 1];
  // Imported history's columns (migrateHistory adds them); a row read without them has neither.
  const [origin, externalId] = [row.origin ?? null, row.external_id ?? null];
  const traceId = row.trace_id ?? null;
  return record({ id, fingerprint, status, title, source, labels, annotations, rule, milestones: times, attempts, escalated, automated, resolution, notifications, lastNotifiedAt, origin, externalId, traceId });
}

export const attemptFields = "incident_id AS incidentId, attempt, rule, fingerprint, status, run_id AS runId, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, detail, owner";
export const toAttempt = (row: Row): AttemptRecord => record(row);
const toNotification = (row: Row): NotificationRecord => ({ ...record<NotificationRecord>(row), processed: row.processed === 1 });

/**
 * Which replica moved an attempt to running (owner), so the attempts of one
 * that died can be taken over. A journal written before the column existed
 * gains it in place, under the write lock.
 */
export function migrateAttemptOwner(db: Database): void {
  const missing = () => !db.query<{ name: string }, []>("PRAGMA table_info(remediation_attempts)").all().some((c) => c.name === "owner");
  if (!missing()) return;
  db.transaction(() => {
    if (missing()) db.exec("ALTER TABLE remediation_attempts ADD COLUMN owner TEXT");
  }).immediate();
}

/**
 * The incident half of the SQLite journal, on a database that already has
 * the runs schema and `incidentSchema` (migrateAttemptOwner applied). Every method is one statement or one
 * transaction (nesting as a savepoint in the journal's transaction, which
 * takes the write lock up front). `rolledBack` is called when a transaction
 * of the journal rolls back: the timeline's remembered latest lines may be
 * undone with it.
 */
export function sqliteIncidentStore(db: Database): { store: Synchronous<Omit<IncidentStore, "transaction" | "listSilences">>; rolledBack: () => void; forget: () => void } {
  const remembered = fingerprintMemory(db);
  const insertNotification = db.prepare("INSERT INTO notifications (source, received_at, body) VALUES ($source, $receivedAt, $body)");
  const acceptBatch = db.transaction((batch: readonly { source: AlertSourceKind; receivedAt: number; body: string }[]) =>
    batch.map((n) => Number(insertNotification.run(n).lastInsertRowid)),
  );
  const selectPending = db.prepare<Row, { limit: number }>("SELECT id, source, received_at AS receivedAt, body, processed FROM notifications WHERE processed = 0 ORDER BY id LIMIT $limit");
  const selectPendingBefore = db.prepare<Row, { limit: number; before: number }>(
    "SELECT id, source, received_at AS receivedAt, body, processed FROM notifications WHERE processed = 0 AND received_at < $before ORDER BY id LIMIT $limit",
  );
  const markProcessed = db.prepare("UPDATE notifications SET processed = 1 WHERE processed = 0 AND id IN (SELECT value FROM json_each($ids))");
  const claimProcessed = db.prepare<{ id: number }, { ids: string }>("UPDATE notifications SET processed = 1 WHERE processed = 0 AND id IN (SELECT value FROM json_each($ids)) RETURNING id");
  const countAll = db.prepare<{ n: number }, []>("SELECT COUNT(*) AS n FROM notifications");

  const selectAlertState = db.prepare<Row, { fingerprint: string }>(`SELECT fingerprint, status, starts_at AS startsAt, ends_at AS endsAt, incident_id AS incidentId, updated_at AS updatedAt
    FROM alert_states WHERE fingerprint = $fingerprint`);
  const upsertAlertState = db.prepare(`INSERT INTO alert_states (fingerprint, status, starts_at, ends_at, incident_id, updated_at)
    VALUES ($fingerprint, $status, $startsAt, $endsAt, $incidentId, $updatedAt)
    ON CONFLICT (fingerprint) DO UPDATE SET status = excluded.status, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
      incident_id = excluded.incident_id, updated_at = excluded.updated_at`);

  const milestoneList = milestones.map(column);
  const insertIncident = db.prepare(`INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, rule, service, severity, alertname,
      ${milestoneList.join(", ")}, notifications, last_notified_at, trace_id)
    VALUES ($fingerprint, 'open', $title, $source, $labels, $annotations, $rule, $service, $severity, $alertname,
      ${milestoneList.map((c) => `$${c}`).join(", ")}, 1, $lastNotifiedAt, $traceId)`);
  const setMilestoneStatements = new Map(milestones.map((m) => [m, db.prepare(`UPDATE incidents SET ${column(m)} = $at WHERE id = $id AND ${column(m)} IS NULL`)] as const));
  const selectIncident = db.prepare<Row, { id: number }>("SELECT * FROM incidents WHERE id = $id");
  const selectOpenIncident = db.prepare<Row, { fingerprint: string }>("SELECT * FROM incidents WHERE fingerprint = $fingerprint AND status = 'open'");

  // The latest line of each timeline (at most 10,000 remembered), seeded from the table, so a repeat
  // during a storm folds with one UPDATE by key: about 4 µs an event inside a transaction, against
  // 22 µs when the statements look the latest line up themselves. A rollback may undo remembered
  // lines, so a failed transaction forgets them all; a line another process appended (a resolve
  // from the CLI) makes the guarded fold or the append change nothing, and the write is redone
  // from the table under the same write lock.
  const latestLines = new Map<number, { seq: number; kind: string; message: string }>();
  const selectLatestLine = db.prepare<{ seq: number; kind: string; message: string }, { incidentId: number }>(
    "SELECT seq, kind, message FROM incident_events WHERE incident_id = $incidentId ORDER BY seq DESC LIMIT 1",
  );
  const foldEvent = db.prepare(`UPDATE incident_events SET count = count + 1, at = MAX(at, $at) WHERE incident_id = $incidentId AND seq = $seq
    AND NOT EXISTS (SELECT 1 FROM incident_events WHERE incident_id = $incidentId AND seq > $seq)`);
  const appendEvent = db.prepare(`INSERT INTO incident_events (incident_id, seq, at, kind, message, data, count)
    VALUES ($incidentId, $seq, $at, $kind, $message, $data, 1) ON CONFLICT DO NOTHING`);
  type EventValues = { incidentId: number; at: number; kind: IncidentEventKind; message: string; data: string };
  /** Folds into or appends after the remembered latest line; false when that memory was stale. */
  const writeEvent = (e: EventValues): boolean => {
    if (!latestLines.has(e.incidentId) && latestLines.size >= 10_000) latestLines.clear();
    const line = latestLines.get(e.incidentId) ?? selectLatestLine.get(e) ?? { seq: 0, kind: "", message: "" };
    latestLines.set(e.incidentId, line);
    if (line.seq > 0 && line.kind === e.kind && line.message === e.message) return foldEvent.run({ incidentId: e.incidentId, seq: line.seq, at: e.at }).changes > 0;
    const seq = line.seq + 1;
    if (appendEvent.run({ ...e, seq }).changes === 0) return false;
    latestLines.set(e.incidentId, { seq, kind: e.kind, message: e.message });
    return true;
  };
  const addEvent = db.transaction((e: EventValues) => {
    if (writeEvent(e)) return;
    latestLines.delete(e.incidentId);
    writeEvent(e);
  });
  const forgetOnRollback = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      latestLines.clear();
      throw error;
    }
  };
  // In time order: a milestone is written when it is learned, with the time it happened (an alert's startsAt is
  // earlier than its arrival); seq keeps lines of the same instant in the order they were written.
  const selectEvents = db.prepare<Row, { incidentId: number }>("SELECT incident_id AS incidentId, seq, at, kind, message, data, count FROM incident_events WHERE incident_id = $incidentId ORDER BY at, seq");

  const insertAttempt = db.prepare(`INSERT INTO remediation_attempts (incident_id, attempt, rule, fingerprint, status, run_id, created_at, started_at, finished_at, detail, owner)
    VALUES ($incidentId, $attempt, $rule, $fingerprint, $status, $runId, $createdAt, $startedAt, $finishedAt, $detail, $owner)`);
  const selectAttempts = db.prepare<Row, { incidentId: number }>(`SELECT ${attemptFields} FROM remediation_attempts WHERE incident_id = $incidentId ORDER BY attempt`);
  const selectAttemptsIn = db.prepare<Row, { statuses: string }>(
    `SELECT ${attemptFields} FROM remediation_attempts WHERE status IN (SELECT value FROM json_each($statuses)) ORDER BY created_at, incident_id, attempt`,
  );
  const selectLastStart = db.prepare<{ at: number | null }, { fingerprint: string }>(
    "SELECT MAX(started_at) AS at FROM remediation_attempts WHERE fingerprint = $fingerprint AND started_at IS NOT NULL AND status NOT IN ('dry_run', 'interrupted')",
  );
  const countRuleStarts = db.prepare<{ n: number }, { rule: string; since: number }>(
    "SELECT COUNT(*) AS n FROM remediation_attempts WHERE rule = $rule AND started_at >= $since AND status != 'dry_run'",
  );

  const selectRuleState = db.prepare<Row, { rule: string }>("SELECT rule, consecutive_failures AS consecutiveFailures, disabled_at AS disabledAt, disabled_reason AS disabledReason FROM rule_states WHERE rule = $rule");
  const upsertRuleState = db.prepare(`INSERT INTO rule_states (rule, consecutive_failures, disabled_at, disabled_reason)
    VALUES ($rule, $consecutiveFailures, $disabledAt, $disabledReason)
    ON CONFLICT (rule) DO UPDATE SET consecutive_failures = excluded.consecutive_failures, disabled_at = excluded.disabled_at,
      disabled_reason = excluded.disabled_reason`);

  const selectSetting = db.prepare<{ value: string }, { key: string }>("SELECT value FROM settings WHERE key = $key");
  const upsertSetting = db.prepare("INSERT INTO settings (key, value) VALUES ($key, $value) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  const deleteSetting = db.prepare("DELETE FROM settings WHERE key = $key");

  // A run whose owner (pid on host) is in $except, a JSON list of live processes, is kept.
  const interruptRuns = db.prepare<{ id: string }, { finishedAt: string; except: string }>(`UPDATE runs SET status = 'interrupted', finished_at = $finishedAt
    WHERE status = 'running' AND json_extract(params, '$.trigger') IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM json_each($except) e WHERE json_extract(e.value, '$.pid') = runs.owner_pid AND json_extract(e.value, '$.host') = runs.owner_host)
    RETURNING id`);

  const store: Synchronous<Omit<IncidentStore, "transaction" | "listSilences">> = {
    acceptNotifications(batch) {
      return acceptBatch.immediate(batch);
    },
    pendingNotifications(limit, options = {}) {
      const rows = options.receivedBefore === undefined ? selectPending.all({ limit }) : selectPendingBefore.all({ limit, before: options.receivedBefore });
      return rows.map(toNotification);
    },
    markNotificationsProcessed(ids) {
      if (ids.length > 0) markProcessed.run({ ids: JSON.stringify(ids) });
    },
    claimNotifications(ids) {
      if (ids.length === 0) return [];
      return claimProcessed.all({ ids: JSON.stringify(ids) }).map((r) => r.id).sort((a, b) => a - b);
    },
    countNotifications() {
      return countAll.get()?.n ?? 0;
    },

    getAlertState(fingerprint) {
      return remembered.getAlertState(fingerprint, () => {
        const row = selectAlertState.get({ fingerprint });
        return row ? record<AlertStateRecord>(row) : undefined;
      });
    },
    putAlertState(s) {
      upsertAlertState.run({ ...s, endsAt: s.endsAt ?? null, incidentId: s.incidentId ?? null });
      remembered.wroteAlertState(s);
    },

    // Opened by a notification (the one at lastNotifiedAt), so the count starts at 1.
    // Throws (UNIQUE constraint) when the fingerprint already has an open incident.
    openIncident(incident) {
      const times = Object.fromEntries(milestones.map((m) => [column(m), incident.milestones[m] ?? null]));
      let inserted;
      try {
        inserted = insertIncident.run({
        fingerprint: incident.fingerprint,
        title: incident.title,
        source: incident.source,
        labels: JSON.stringify(incident.labels),
        annotations: JSON.stringify(incident.annotations),
        rule: incident.rule ?? null,
        ...labelColumns(incident.labels),
        ...times,
        lastNotifiedAt: incident.lastNotifiedAt,
        traceId: incident.traceId ?? null,
        });
      } catch (error) {
        remembered.failedToOpen(incident.fingerprint);
        if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE" && String((error as Error).message).includes("incidents.fingerprint")) throw incidentAlreadyOpen(incident.fingerprint, error);
        throw error;
      }
      const opened = toIncident(selectIncident.get({ id: Number(inserted.lastInsertRowid) })!);
      remembered.wroteIncident(opened);
      return opened;
    },
    updateIncident(id, patch) {
      const values: Params = { id };
      const sets = setList(incidentPatchColumns, patch, values);
      if (patch.labels) {
        sets.push("service = $service", "severity = $severity", "alertname = $alertname");
        Object.assign(values, labelColumns(patch.labels));
      }
      // db.query caches the statement per SET list, so each shape is compiled once.
      if (sets.length > 0) db.query(`UPDATE incidents SET ${sets.join(", ")} WHERE id = $id`).run(values);
      remembered.patchedIncident(id, patch);
    },
    setMilestone(id, milestone, at) {
      const statement = setMilestoneStatements.get(milestone);
      if (!statement) throw new Error(`unknown milestone ${JSON.stringify(milestone)}`);
      const set = statement.run({ id, at }).changes > 0;
      if (set) remembered.setMilestone(id, milestone, at);
      return set;
    },
    getIncident(id) {
      return remembered.getIncident(id, () => {
        const row = selectIncident.get({ id });
        return row ? toIncident(row) : undefined;
      });
    },
    findOpenIncident(fingerprint) {
      return remembered.findOpenIncident(fingerprint, () => {
        const row = selectOpenIncident.get({ fingerprint });
        return row ? toIncident(row) : undefined;
      });
    },
    listIncidents(filter = {}) {
      const { where, values } = incidentWhere(filter);
      return db
        .query<Row, Params>(`SELECT * FROM incidents ${where} ORDER BY id DESC LIMIT $limit`)
        .all({ ...values, limit: filter.limit ?? 100 })
        .map(toIncident);
    },
    countIncidents(filter = {}) {
      const { where, values } = incidentWhere(filter);
      return db.query<{ n: number }, Params>(`SELECT COUNT(*) AS n FROM incidents ${where}`).get(values)?.n ?? 0;
    },

    addIncidentEvent(incidentId, event) {
      const values = { incidentId, at: event.at, kind: event.kind, message: event.message, data: JSON.stringify(event.data ?? {}) };
      forgetOnRollback(() => addEvent.immediate(values));
    },
    incidentEvents(incidentId) {
      return selectEvents.all({ incidentId }).map((row): IncidentEventRecord => ({ ...record<IncidentEventRecord>(row), data: JSON.parse(row.data as string) }));
    },

    createAttempt(a) {
      try {
        insertAttempt.run({ ...a, runId: a.runId ?? null, startedAt: a.startedAt ?? null, finishedAt: a.finishedAt ?? null, detail: a.detail ?? null, owner: a.owner ?? null });
      } catch (error) {
        if ((error as { code?: string }).code !== "SQLITE_CONSTRAINT_PRIMARYKEY") throw error;
        const message = `attempt ${a.attempt} of incident ${a.incidentId} already exists`;
        const hint = "an attempt is created once; read attempts(incidentId) and take the next number";
        throw new OpsError({ code: "E_ATTEMPT_EXISTS", message, hint, exitCode: ExitCode.internal, cause: error });
      }
    },
    updateAttempt(incidentId, attempt, patch) {
      const values: Params = { incidentId, attempt };
      const sets = setList(attemptPatchColumns, patch, values);
      if (sets.length > 0) db.query(`UPDATE remediation_attempts SET ${sets.join(", ")} WHERE incident_id = $incidentId AND attempt = $attempt`).run(values);
    },
    claimAttempt(incidentId, attempt, from, patch) {
      const values: Params = { incidentId, attempt, from };
      const sets = setList(attemptPatchColumns, patch, values);
      if (sets.length === 0) return false;
      return db.query(`UPDATE remediation_attempts SET ${sets.join(", ")} WHERE incident_id = $incidentId AND attempt = $attempt AND status = $from`).run(values).changes > 0;
    },
    attempts(incidentId) {
      return selectAttempts.all({ incidentId }).map(toAttempt);
    },
    attemptsIn(statuses) {
      return statuses.length > 0 ? selectAttemptsIn.all({ statuses: JSON.stringify(statuses) }).map(toAttempt) : [];
    },
    lastAttemptStart(fingerprint) {
      return selectLastStart.get({ fingerprint })?.at ?? undefined;
    },
    countRuleAttemptsSince(rule, since) {
      return countRuleStarts.get({ rule, since })?.n ?? 0;
    },

    getRuleState(rule) {
      const row = selectRuleState.get({ rule });
      return row ? record<RuleStateRecord>(row) : undefined;
    },
    putRuleState(s) {
      upsertRuleState.run({ ...s, disabledAt: s.disabledAt ?? null, disabledReason: s.disabledReason ?? null });
    },

    getSetting(key) {
      return selectSetting.get({ key })?.value;
    },
    putSetting(key, value) {
      if (value === undefined) deleteSetting.run({ key });
      else upsertSetting.run({ key, value });
    },

    interruptRunningRuns(options = {}) {
      const except = JSON.stringify((options.except ?? []).map(({ pid, host }) => ({ pid, host })));
      return interruptRuns.all({ finishedAt: new Date().toISOString(), except }).map((r) => r.id);
    },
  };
  const rolledBack = () => {
    latestLines.clear();
    remembered.forget();
  };
  return { store, rolledBack, forget: remembered.forget };
}
