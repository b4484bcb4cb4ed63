import type { Database } from "bun:sqlite";
import { asJsonText, containsPattern, searchableAsJsonText } from "./browse-text.ts";
import { stepSummaryFromRow } from "./columns.ts";
import type { BrowseStore, GateFacts, IncidentQuery, RunQuery } from "./browse-types.ts";
import type { Synchronous } from "./sqlite-async.ts";
import { attemptFields, record, toAttempt, toIncident } from "./sqlite-incidents.ts";
import { toRun, toTarget, type RunRow } from "./sqlite-runs.ts";
import type { IncidentEventRecord, TargetRecord } from "./types.ts";

/**
 * What the history's filters read, each ordered as its pages are: an index
 * on (x) in SQLite ends with the rowid, so incidents of one rule or status
 * come newest first from the index itself; runs go by (started_at, id).
 */
const browseIndexes = `
CREATE INDEX IF NOT EXISTS incidents_rule ON incidents (rule);
CREATE INDEX IF NOT EXISTS attempts_run ON remediation_attempts (run_id);
CREATE INDEX IF NOT EXISTS run_targets_target ON run_targets (target, run_id);
CREATE INDEX IF NOT EXISTS runs_started_id ON runs (started_at, id);
CREATE INDEX IF NOT EXISTS runs_name ON runs (name, started_at, id);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, started_at, id);
CREATE INDEX IF NOT EXISTS schedule_fires_run ON schedule_fires (run_id);
`;

/** Adds the history's indexes (after the incident, run and schedule schemas); IF NOT EXISTS makes a second open a no-op. */
export function migrateBrowse(db: Database): void {
  db.exec(browseIndexes);
}

type Params = Record<string, string | number | null>;

function incidentConditions(query: IncidentQuery, params: Params): string[] {
  const where: string[] = [];
  const bind = (name: string, value: string | number, condition: string) => {
    params[name] = value;
    where.push(condition);
  };
  if (query.status !== undefined) bind("status", query.status, "status = $status");
  if (query.rule !== undefined) bind("rule", query.rule, "rule = $rule");
  if (query.ids !== undefined) bind("ids", JSON.stringify(query.ids), "id IN (SELECT value FROM json_each($ids))");
  if (query.since !== undefined) bind("since", query.since, "started_at >= $since");
  if (query.until !== undefined) bind("until", query.until, "started_at < $until");
  if (query.target !== undefined) {
    bind("target", query.target, "id IN (SELECT a.incident_id FROM run_targets t JOIN remediation_attempts a ON a.run_id = t.run_id WHERE t.target = $target)");
  }
  if (query.text) {
    // LIKE folds ASCII letters only, as the contract has it, and reads the column without a lowered copy of each.
    params.text = containsPattern(query.text);
    const json = asJsonText(query.text);
    const inLabels = json === undefined ? "1" : "labels LIKE $json ESCAPE '\\'";
    if (json !== undefined) params.json = containsPattern(json);
    const labels = searchableAsJsonText(query.text)
      ? inLabels
      : `${inLabels} AND EXISTS (SELECT 1 FROM json_each(incidents.labels) l WHERE l.key LIKE $text ESCAPE '\\' OR l.value LIKE $text ESCAPE '\\')`;
    where.push(`(title LIKE $text ESCAPE '\\' OR fingerprint LIKE $text ESCAPE '\\' OR (${labels}))`);
  }
  return where;
}

/** The trigger as SQL: a fixed text per kind, never the caller's string. */
const triggerConditions = {
  remediation: "json_extract(params, '$.trigger.attempt') > 0",
  escalation: "json_extract(params, '$.trigger.attempt') = 0",
  schedule: "id IN (SELECT run_id FROM schedule_fires WHERE run_id IS NOT NULL)",
  manual: "json_extract(params, '$.trigger') IS NULL AND id NOT IN (SELECT run_id FROM schedule_fires WHERE run_id IS NOT NULL)",
} as const;

function runConditions(query: RunQuery, params: Params): string[] {
  const where: string[] = [];
  const bind = (name: string, value: string | number, condition: string) => {
    params[name] = value;
    where.push(condition);
  };
  if (query.status !== undefined) bind("status", query.status, "status = $status");
  if (query.workflow !== undefined) bind("workflow", query.workflow, "name = $workflow");
  // started_at is ISO 8601 text (toISOString), which sorts as the time does.
  if (query.since !== undefined) bind("since", new Date(query.since).toISOString(), "started_at >= $since");
  if (query.until !== undefined) bind("until", new Date(query.until).toISOString(), "started_at < $until");
  if (query.target !== undefined) bind("target", query.target, "id IN (SELECT run_id FROM run_targets WHERE target = $target)");
  if (query.trigger !== undefined) where.push(triggerConditions[query.trigger]);
  if (query.ids !== undefined) bind("ids", JSON.stringify(query.ids), "id IN (SELECT value FROM json_each($ids))");
  return where;
}

const whereOf = (conditions: string[]) => (conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "");

/** The history's pages and views on SQLite (browse-types.ts says what each promises). */
export function sqliteBrowseStore(db: Database): Synchronous<BrowseStore> {
  const selectGateLines = db.prepare<Record<string, unknown>, { ids: string }>(`SELECT incident_id AS incidentId, seq, at, kind, message, data, count FROM incident_events e
    WHERE e.incident_id IN (SELECT value FROM json_each($ids)) AND e.seq = (
      SELECT MAX(x.seq) FROM incident_events x WHERE x.incident_id = e.incident_id AND x.kind = e.kind
        AND (x.kind = 'escalation' OR (x.kind = 'gate' AND json_extract(x.data, '$.gate') IS NOT NULL)))`);
  const selectAttempts = db.prepare<Record<string, unknown>, { ids: string }>(
    `SELECT ${attemptFields} FROM remediation_attempts WHERE incident_id IN (SELECT value FROM json_each($ids)) ORDER BY incident_id, attempt`,
  );
  const selectRun = db.prepare<RunRow, { id: string }>("SELECT * FROM runs WHERE id = $id");
  const selectTargets = db.prepare<Record<string, unknown>, { id: string }>("SELECT * FROM run_targets WHERE run_id = $id ORDER BY batch, target");
  const selectTargetsOf = db.prepare<Record<string, unknown>, { ids: string }>("SELECT * FROM run_targets WHERE run_id IN (SELECT value FROM json_each($ids)) ORDER BY run_id, batch, target");
  // The output's length in bytes (its UTF-8 text as a blob), read without handing the text over.
  const selectSteps = db.prepare<Record<string, unknown>, { id: string }>(`SELECT target, phase, idx, name, action, status, exit_code, length(CAST(stdout AS BLOB)) AS stdout_bytes,
      length(CAST(stderr AS BLOB)) AS stderr_bytes, duration_ms, attempts, error, started_at
    FROM step_results WHERE run_id = $id ORDER BY rowid`);
  const selectOutput = db.prepare<{ stdout: string; stderr: string }, { runId: string; target: string; phase: string; index: number }>(
    "SELECT stdout, stderr FROM step_results WHERE run_id = $runId AND target = $target AND phase = $phase AND idx = $index ORDER BY rowid DESC LIMIT 1",
  );

  return {
    queryIncidents(query) {
      const params: Params = {};
      const conditions = incidentConditions(query, params);
      const total = db.query<{ n: number }, Params>(`SELECT COUNT(*) AS n FROM incidents ${whereOf(conditions)}`).get(params)?.n ?? 0;
      if (query.before !== undefined) {
        conditions.push("id < $before");
        params.before = query.before;
      }
      params.limit = query.limit + 1;
      // db.query caches the statement per text: each combination of filters is compiled once.
      const rows = db.query<Record<string, unknown>, Params>(`SELECT * FROM incidents ${whereOf(conditions)} ORDER BY id DESC LIMIT $limit`).all(params);
      return { incidents: rows.slice(0, query.limit).map(toIncident), total, more: rows.length > query.limit };
    },
    queryRuns(query) {
      const params: Params = {};
      const conditions = runConditions(query, params);
      const total = db.query<{ n: number }, Params>(`SELECT COUNT(*) AS n FROM runs ${whereOf(conditions)}`).get(params)?.n ?? 0;
      if (query.after !== undefined) {
        conditions.push("(started_at < $afterStarted OR (started_at = $afterStarted AND id < $afterId))");
        params.afterStarted = query.after.startedAt;
        params.afterId = query.after.id;
      }
      params.limit = query.limit + 1;
      const rows = db.query<RunRow, Params>(`SELECT * FROM runs ${whereOf(conditions)} ORDER BY started_at DESC, id DESC LIMIT $limit`).all(params);
      return { runs: rows.slice(0, query.limit).map(toRun), total, more: rows.length > query.limit };
    },
    gateFacts(incidentIds) {
      const facts = new Map<number, GateFacts>();
      if (incidentIds.length === 0) return facts;
      const ids = JSON.stringify(incidentIds);
      const of = (id: number) => facts.get(id) ?? facts.set(id, { attempts: [] }).get(id)!;
      for (const row of selectAttempts.all({ ids })) {
        const attempt = toAttempt(row);
        of(attempt.incidentId).attempts.push(attempt);
      }
      for (const row of selectGateLines.all({ ids })) {
        const line: IncidentEventRecord = { ...record<IncidentEventRecord>(row), data: JSON.parse(row.data as string) };
        of(line.incidentId)[line.kind === "gate" ? "gate" : "escalation"] = line;
      }
      return facts;
    },
    runSummary(id) {
      const row = selectRun.get({ id });
      if (!row) return undefined;
      const steps = selectSteps.all({ id }).map((r) => stepSummaryFromRow(id, r));
      return { run: toRun(row), targets: selectTargets.all({ id }).map((r) => toTarget(id, r)), steps };
    },
    runTargets(runIds) {
      const out = new Map<string, TargetRecord[]>();
      if (runIds.length === 0) return out;
      for (const row of selectTargetsOf.all({ ids: JSON.stringify(runIds) })) {
        const runId = row.run_id as string;
        const list = out.get(runId) ?? out.set(runId, []).get(runId)!;
        list.push(toTarget(runId, row));
      }
      return out;
    },
    stepOutput(runId, target, phase, index) {
      return selectOutput.get({ runId, target, phase, index }) ?? undefined;
    },
  };
}
