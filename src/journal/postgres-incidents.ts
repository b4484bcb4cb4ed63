import { ExitCode, OpsError } from "../errors.ts";
import { attemptPatchColumns, incidentPatchColumns, milestoneColumn as column } from "./columns.ts";
import { incidentAlreadyOpen } from "./errors.ts";
import { json, present, setList, type Row, type StoreOn } from "./postgres-sql.ts";
import { milestones } from "./types.ts";
import type { AlertStateRecord, AttemptRecord, IncidentEventRecord, IncidentFilter, IncidentRecord, IncidentStore, NotificationRecord, RuleStateRecord } from "./types.ts";


/** Objects (labels, annotations) go to their json columns as JSON text. */
function encodePatch<P extends object>(patch: P): P {
  const out: Record<string, unknown> = { ...(patch as Record<string, unknown>) };
  for (const key in out) if (out[key] !== null && typeof out[key] === "object") out[key] = json(out[key]);
  return out as P;
}

/** Columns copied out of the labels, so reports group by them in SQL. */
function labelColumns(labels: Record<string, string>): (string | null)[] {
  return [labels.service ?? null, labels.severity ?? null, labels.alertname ?? null];
}

function incidentWhere(filter: IncidentFilter, values: unknown[]): string {
  const where: string[] = [];
  if (filter.status !== undefined) where.push(`status = $${values.push(filter.status)}`);
  if (filter.fingerprint !== undefined) where.push(`fingerprint = $${values.push(filter.fingerprint)}`);
  if (filter.since !== undefined) where.push(`started_at >= $${values.push(filter.since)}`);
  return where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
}

export function toIncident(row: Row): IncidentRecord {
  const times = Object.fromEntries(milestones.filter((m) => row[column(m)] !== null).map((m) => [m, row[column(m)]]));
  return present<IncidentRecord>({
    id: row.id, fingerprint: row.fingerprint, status: row.status, title: row.title, source: row.source, labels: row.labels, annotations: row.annotations,
    rule: row.rule, milestones: times, attempts: row.attempts, escalated: row.escalated, automated: row.automated, resolution: row.resolution,
    notifications: row.notifications, lastNotifiedAt: row.last_notified_at, origin: row.origin, externalId: row.external_id, traceId: row.trace_id,
  });
}

export const attemptFields = `incident_id AS "incidentId", attempt, rule, fingerprint, status, run_id AS "runId", created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt", detail, owner`;
const notificationFields = `id, source, received_at AS "receivedAt", body, processed`;

const milestoneList = milestones.map(column);
/**
 * The columns an incident is read from, named: a statement prepared by a
 * replica stays valid when a newer one adds a column (SELECT * would fail
 * with "cached plan must not change result type" during a rolling restart).
 */
export const incidentColumns = `id, fingerprint, status, title, source, labels, annotations, rule, ${milestoneList.join(", ")}, attempts, escalated, automated, resolution,
  notifications, last_notified_at, origin, external_id, trace_id`;
const insertIncident = `INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, rule, service, severity, alertname,
    ${milestoneList.join(", ")}, notifications, last_notified_at, trace_id)
  VALUES ($1, 'open', $2, $3, $4, $5, $6, $7, $8, $9, ${milestoneList.map((_, i) => `$${10 + i}`).join(", ")}, 1, $${10 + milestoneList.length}, $${11 + milestoneList.length})
  ON CONFLICT (fingerprint) WHERE status = 'open' DO NOTHING
  RETURNING ${incidentColumns}`;

// The latest line of the timeline folds a repeat of itself (count + 1, the latest time); anything else is
// appended after it. Read and write in one statement, run where no other journal transaction runs
// (Sql.serialized), so the latest line is still the latest when it is written.
const addEvent = `WITH last AS (SELECT seq, kind, message FROM incident_events WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1),
  folded AS (
    UPDATE incident_events e SET count = e.count + 1, at = GREATEST(e.at, $2) FROM last
    WHERE e.incident_id = $1 AND e.seq = last.seq AND last.kind = $3 AND last.message = $4 RETURNING e.seq
  )
  INSERT INTO incident_events (incident_id, seq, at, kind, message, data, count)
  SELECT $1, COALESCE((SELECT seq FROM last), 0) + 1, $2, $3, $4, $5, 1 WHERE NOT EXISTS (SELECT 1 FROM folded)`;

/** Incidents, their timelines and attempts, notifications, alert and rule states, settings, on PostgreSQL. */
export const postgresIncidentStore: StoreOn<Omit<IncidentStore, "transaction" | "listSilences">> = {
  // One statement per batch (group commit): the rows come in as arrays, and their ids in the order given.
  async acceptNotifications(sql, batch) {
    if (batch.length === 0) return [];
    const rows = await sql.rows<{ id: number }>(
      `INSERT INTO notifications (source, received_at, body)
        SELECT source, received_at, body FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS n (source, received_at, body, position) ORDER BY position
        RETURNING id`,
      [batch.map((n) => n.source), batch.map((n) => n.receivedAt), batch.map((n) => n.body)],
    );
    // One statement takes its identities in the order it inserts its rows, which is the order given.
    return rows.map((r) => r.id).sort((a, b) => a - b);
  },
  async pendingNotifications(sql, limit, options = {}) {
    const rows =
      options.receivedBefore === undefined
        ? await sql.rows(`SELECT ${notificationFields} FROM notifications WHERE NOT processed ORDER BY id LIMIT $1`, [limit])
        : await sql.rows(`SELECT ${notificationFields} FROM notifications WHERE NOT processed AND received_at < $2 ORDER BY id LIMIT $1`, [limit, options.receivedBefore]);
    return rows as unknown as NotificationRecord[];
  },
  async markNotificationsProcessed(sql, ids) {
    if (ids.length > 0) await sql.changed("UPDATE notifications SET processed = true WHERE NOT processed AND id = ANY($1::bigint[])", [ids]);
  },
  async claimNotifications(sql, ids) {
    if (ids.length === 0) return [];
    // A row another transaction claims first is waited for, then found processed: each id goes to one claim.
    const rows = await sql.rows<{ id: number }>("UPDATE notifications SET processed = true WHERE NOT processed AND id = ANY($1::bigint[]) RETURNING id", [ids]);
    return rows.map((r) => r.id).sort((a, b) => a - b);
  },
  async countNotifications(sql) {
    return (await sql.rows<{ n: number }>("SELECT count(*) AS n FROM notifications"))[0]!.n;
  },

  async getAlertState(sql, fingerprint) {
    const [row] = await sql.rows(`SELECT fingerprint, status, starts_at AS "startsAt", ends_at AS "endsAt", incident_id AS "incidentId", updated_at AS "updatedAt" FROM alert_states WHERE fingerprint = $1`, [fingerprint]);
    return row ? present<AlertStateRecord>(row) : undefined;
  },
  async putAlertState(sql, s) {
    await sql.changed(
      `INSERT INTO alert_states (fingerprint, status, starts_at, ends_at, incident_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (fingerprint) DO UPDATE SET status = excluded.status, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
          incident_id = excluded.incident_id, updated_at = excluded.updated_at`,
      [s.fingerprint, s.status, s.startsAt, s.endsAt ?? null, s.incidentId ?? null, s.updatedAt],
    );
  },

  // Opened by a notification (the one at lastNotifiedAt), so the count starts at 1. A second open incident for the
  // fingerprint is refused by the unique index, without an error that would abort the transaction around it.
  async openIncident(sql, incident) {
    const times = milestones.map((m) => incident.milestones[m] ?? null);
    const values = [incident.fingerprint, incident.title, incident.source, json(incident.labels), json(incident.annotations), incident.rule ?? null, ...labelColumns(incident.labels), ...times, incident.lastNotifiedAt, incident.traceId ?? null];
    const [row] = await sql.rows(insertIncident, values);
    if (!row) throw incidentAlreadyOpen(incident.fingerprint);
    return toIncident(row);
  },
  async updateIncident(sql, id, patch) {
    const values: unknown[] = [id];
    const sets = setList(incidentPatchColumns, encodePatch(patch), values);
    if (patch.labels) sets.push(`service = $${values.push(patch.labels.service ?? null)}`, `severity = $${values.push(patch.labels.severity ?? null)}`, `alertname = $${values.push(patch.labels.alertname ?? null)}`);
    if (sets.length > 0) await sql.changed(`UPDATE incidents SET ${sets.join(", ")} WHERE id = $1`, values);
  },
  async setMilestone(sql, id, milestone, at) {
    return (await sql.changed(`UPDATE incidents SET ${column(milestone)} = $2 WHERE id = $1 AND ${column(milestone)} IS NULL`, [id, at])) > 0;
  },
  async getIncident(sql, id) {
    const [row] = await sql.rows(`SELECT ${incidentColumns} FROM incidents WHERE id = $1`, [id]);
    return row ? toIncident(row) : undefined;
  },
  async findOpenIncident(sql, fingerprint) {
    const [row] = await sql.rows(`SELECT ${incidentColumns} FROM incidents WHERE fingerprint = $1 AND status = 'open'`, [fingerprint]);
    return row ? toIncident(row) : undefined;
  },
  async listIncidents(sql, filter = {}) {
    const values: unknown[] = [];
    const where = incidentWhere(filter, values);
    const rows = await sql.rows(`SELECT ${incidentColumns} FROM incidents ${where} ORDER BY id DESC LIMIT $${values.push(filter.limit ?? 100)}`, values);
    return rows.map(toIncident);
  },
  async countIncidents(sql, filter = {}) {
    const values: unknown[] = [];
    const where = incidentWhere(filter, values);
    return (await sql.rows<{ n: number }>(`SELECT count(*) AS n FROM incidents ${where}`, values))[0]!.n;
  },

  async addIncidentEvent(sql, incidentId, event) {
    await sql.serialized((locked) => locked.changed(addEvent, [incidentId, event.at, event.kind, event.message, json(event.data ?? {})]));
  },
  async incidentEvents(sql, incidentId) {
    // In time order: a milestone is written when it is learned, with the time it happened; seq keeps lines of the same instant in the order written.
    const rows = await sql.rows(`SELECT incident_id AS "incidentId", seq, at, kind, message, data, count FROM incident_events WHERE incident_id = $1 ORDER BY at, seq`, [incidentId]);
    return rows as unknown as IncidentEventRecord[];
  },

  // The primary key (incident, attempt) refuses a second one: reported without aborting the transaction around it.
  async createAttempt(sql, a) {
    const inserted = await sql.changed(
      `INSERT INTO remediation_attempts (incident_id, attempt, rule, fingerprint, status, run_id, created_at, started_at, finished_at, detail, owner)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (incident_id, attempt) DO NOTHING`,
      [a.incidentId, a.attempt, a.rule, a.fingerprint, a.status, a.runId ?? null, a.createdAt, a.startedAt ?? null, a.finishedAt ?? null, a.detail, a.owner ?? null],
    );
    if (inserted > 0) return;
    const message = `attempt ${a.attempt} of incident ${a.incidentId} already exists`;
    throw new OpsError({ code: "E_ATTEMPT_EXISTS", message, hint: "an attempt is created once; read attempts(incidentId) and take the next number", exitCode: ExitCode.internal });
  },
  async updateAttempt(sql, incidentId, attempt, patch) {
    const values: unknown[] = [incidentId, attempt];
    const sets = setList(attemptPatchColumns, encodePatch(patch), values);
    if (sets.length > 0) await sql.changed(`UPDATE remediation_attempts SET ${sets.join(", ")} WHERE incident_id = $1 AND attempt = $2`, values);
  },
  // Compare and set in one statement: of two racing, the second waits for the first's row and finds its status changed.
  async claimAttempt(sql, incidentId, attempt, from, patch) {
    const values: unknown[] = [incidentId, attempt, from];
    const sets = setList(attemptPatchColumns, encodePatch(patch), values);
    if (sets.length === 0) return false;
    return (await sql.changed(`UPDATE remediation_attempts SET ${sets.join(", ")} WHERE incident_id = $1 AND attempt = $2 AND status = $3`, values)) > 0;
  },
  async attempts(sql, incidentId) {
    return (await sql.rows(`SELECT ${attemptFields} FROM remediation_attempts WHERE incident_id = $1 ORDER BY attempt`, [incidentId])).map((r) => present<AttemptRecord>(r));
  },
  async attemptsIn(sql, statuses) {
    if (statuses.length === 0) return [];
    const rows = await sql.rows(`SELECT ${attemptFields} FROM remediation_attempts WHERE status = ANY($1::text[]) ORDER BY created_at, incident_id, attempt`, [statuses]);
    return rows.map((r) => present<AttemptRecord>(r));
  },
  async lastAttemptStart(sql, fingerprint) {
    const [row] = await sql.rows<{ at: number | null }>(
      "SELECT max(started_at) AS at FROM remediation_attempts WHERE fingerprint = $1 AND started_at IS NOT NULL AND status NOT IN ('dry_run', 'interrupted')",
      [fingerprint],
    );
    return row?.at ?? undefined;
  },
  async countRuleAttemptsSince(sql, rule, since) {
    return (await sql.rows<{ n: number }>("SELECT count(*) AS n FROM remediation_attempts WHERE rule = $1 AND started_at >= $2 AND status <> 'dry_run'", [rule, since]))[0]!.n;
  },

  async getRuleState(sql, rule) {
    const [row] = await sql.rows(`SELECT rule, consecutive_failures AS "consecutiveFailures", disabled_at AS "disabledAt", disabled_reason AS "disabledReason" FROM rule_states WHERE rule = $1`, [rule]);
    return row ? present<RuleStateRecord>(row) : undefined;
  },
  async putRuleState(sql, s) {
    await sql.changed(
      `INSERT INTO rule_states (rule, consecutive_failures, disabled_at, disabled_reason) VALUES ($1, $2, $3, $4)
        ON CONFLICT (rule) DO UPDATE SET consecutive_failures = excluded.consecutive_failures, disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason`,
      [s.rule, s.consecutiveFailures, s.disabledAt ?? null, s.disabledReason],
    );
  },

  async getSetting(sql, key) {
    const [row] = await sql.rows<{ value: string }>("SELECT value FROM settings WHERE key = $1", [key]);
    return row?.value;
  },
  async putSetting(sql, key, value) {
    if (value === undefined) await sql.changed("DELETE FROM settings WHERE key = $1", [key]);
    else await sql.changed("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
  },

  // Remediation runs (their params have a trigger) still running, unless their owner (pid on host) is a live process.
  async interruptRunningRuns(sql, options = {}) {
    const except = options.except ?? [];
    const rows = await sql.rows<{ id: string }>(
      `UPDATE runs SET status = 'interrupted', finished_at = $1
        WHERE status = 'running' AND COALESCE(json_typeof(params -> 'trigger'), 'null') <> 'null'
          AND NOT EXISTS (SELECT 1 FROM unnest($2::integer[], $3::text[]) AS live (pid, host) WHERE live.pid = runs.owner_pid AND live.host = runs.owner_host)
        RETURNING id`,
      [new Date().toISOString(), except.map((p) => p.pid), except.map((p) => p.host)],
    );
    return rows.map((r) => r.id).sort();
  },
};
