import { asciiLower, asJsonText, searchableAsJsonText } from "./browse-text.ts";
import { stepSummaryFromRow } from "./columns.ts";
import type { BrowseStore, GateFacts, IncidentQuery, RunQuery } from "./browse-types.ts";
import { attemptFields, incidentColumns, toIncident } from "./postgres-incidents.ts";
import { runColumns, targetColumns, toRun, toTarget } from "./postgres-runs.ts";
import { BINARY, present, type Row, type Sql, type StoreOn } from "./postgres-sql.ts";
import type { AttemptRecord, IncidentEventRecord, TargetRecord } from "./types.ts";

/**
 * ASCII letters folded as SQLite's lower() folds them, nothing else: under
 * the C collation PostgreSQL's lower() folds only ASCII (under another it
 * folds every script). 25 times faster than translate() over the letters.
 */
const folded = (column: string) => `lower(${column} COLLATE "C")`;

/**
 * Each label as a key and a value. A NUL, which a PostgreSQL text cannot
 * hold, reads as U+FFFD, as a NUL in any other value does (bindable).
 */
const labelPairs = "json_each_text(replace(labels::text, '\\u0000', '\\uFFFD')::json)";

function incidentConditions(query: IncidentQuery, values: unknown[]): string[] {
  const where: string[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  if (query.status !== undefined) where.push(`status = ${bind(query.status)}`);
  if (query.rule !== undefined) where.push(`rule = ${bind(query.rule)}`);
  if (query.ids !== undefined) where.push(`id = ANY(${bind(query.ids)}::bigint[])`);
  if (query.since !== undefined) where.push(`started_at >= ${bind(query.since)}`);
  if (query.until !== undefined) where.push(`started_at < ${bind(query.until)}`);
  if (query.target !== undefined) {
    where.push(`id IN (SELECT a.incident_id FROM run_targets t JOIN remediation_attempts a ON a.run_id = t.run_id WHERE t.target = ${bind(query.target)})`);
  }
  if (query.text) {
    const n = bind(asciiLower(query.text));
    const json = asJsonText(query.text);
    // Every label that holds the needle has it, escaped, in the labels' JSON text: a cheap test first.
    const inLabels = json === undefined ? "true" : `strpos(${folded("labels::text")}, ${bind(asciiLower(json))}) > 0`;
    const labels = searchableAsJsonText(query.text)
      ? inLabels
      : `${inLabels} AND EXISTS (SELECT 1 FROM ${labelPairs} l WHERE strpos(${folded("l.key")}, ${n}) > 0 OR strpos(${folded("l.value")}, ${n}) > 0)`;
    where.push(`(strpos(${folded("title")}, ${n}) > 0 OR strpos(${folded("fingerprint")}, ${n}) > 0 OR (${labels}))`);
  }
  return where;
}

/** The trigger as SQL: a fixed text per kind, never the caller's string. */
const triggerConditions = {
  remediation: "(params #>> '{trigger,attempt}')::numeric > 0",
  escalation: "(params #>> '{trigger,attempt}')::numeric = 0",
  schedule: "id IN (SELECT run_id FROM schedule_fires WHERE run_id IS NOT NULL)",
  manual: "COALESCE(json_typeof(params -> 'trigger'), 'null') = 'null' AND id NOT IN (SELECT run_id FROM schedule_fires WHERE run_id IS NOT NULL)",
} as const;

function runConditions(query: RunQuery, values: unknown[]): string[] {
  const where: string[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  if (query.status !== undefined) where.push(`status = ${bind(query.status)}`);
  if (query.workflow !== undefined) where.push(`name = ${bind(query.workflow)}`);
  // started_at is ISO 8601 text (toISOString), which sorts (byte by byte) as the time does.
  if (query.since !== undefined) where.push(`started_at ${BINARY} >= ${bind(new Date(query.since).toISOString())}`);
  if (query.until !== undefined) where.push(`started_at ${BINARY} < ${bind(new Date(query.until).toISOString())}`);
  if (query.target !== undefined) where.push(`id IN (SELECT run_id FROM run_targets WHERE target = ${bind(query.target)})`);
  if (query.trigger !== undefined) where.push(triggerConditions[query.trigger]);
  if (query.ids !== undefined) where.push(`id = ANY(${bind(query.ids)}::text[])`);
  return where;
}

const whereOf = (conditions: string[]) => (conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "");

/**
 * One page and the count of every match, from one snapshot. `keyset` binds
 * its values after the filters' (the count reads only the filters').
 */
async function page(sql: Sql, table: string, columns: string, conditions: string[], values: unknown[], keyset: ((bind: (value: unknown) => string) => string) | undefined, order: string, limit: number): Promise<{ rows: Row[]; total: number }> {
  const paged = [...values];
  const bind = (value: unknown) => `$${paged.push(value)}`;
  const where = whereOf(keyset ? [...conditions, keyset(bind)] : conditions);
  const text = `SELECT ${columns} FROM ${table} ${where} ORDER BY ${order} LIMIT ${bind(limit + 1)}`;
  return sql.atomic(
    async (read) => {
      const [count] = await read.rows<{ n: number }>(`SELECT count(*) AS n FROM ${table} ${whereOf(conditions)}`, values);
      return { rows: await read.rows(text, paged), total: count?.n ?? 0 };
    },
    { isolation: "repeatable read" },
  );
}

const gateLines = `SELECT DISTINCT ON (incident_id, kind) incident_id AS "incidentId", seq, at, kind, message, data, count FROM incident_events
  WHERE incident_id = ANY($1::bigint[]) AND (kind = 'escalation' OR (kind = 'gate' AND data ->> 'gate' IS NOT NULL))
  ORDER BY incident_id, kind, seq DESC`;

const stepSummaryColumns = "target, phase, idx, name, action, status, exit_code, octet_length(stdout) AS stdout_bytes, octet_length(stderr) AS stderr_bytes, duration_ms, attempts, error, started_at";

/** The history's pages and views on PostgreSQL (browse-types.ts says what each promises). */
export const postgresBrowseStore: StoreOn<BrowseStore> = {
  async queryIncidents(sql, query) {
    const values: unknown[] = [];
    const conditions = incidentConditions(query, values);
    const before = query.before;
    const keyset = before !== undefined ? (bind: (value: unknown) => string) => `id < ${bind(before)}` : undefined;
    const { rows, total } = await page(sql, "incidents", incidentColumns, conditions, values, keyset, "id DESC", query.limit);
    return { incidents: rows.slice(0, query.limit).map(toIncident), total, more: rows.length > query.limit };
  },
  async queryRuns(sql, query) {
    const values: unknown[] = [];
    const conditions = runConditions(query, values);
    const after = query.after;
    const keyset = after
      ? (bind: (value: unknown) => string) => {
          const started = bind(after.startedAt);
          return `(started_at ${BINARY} < ${started} OR (started_at = ${started} AND id ${BINARY} < ${bind(after.id)}))`;
        }
      : undefined;
    const { rows, total } = await page(sql, "runs", runColumns, conditions, values, keyset, `started_at ${BINARY} DESC, id ${BINARY} DESC`, query.limit);
    return { runs: rows.slice(0, query.limit).map(toRun), total, more: rows.length > query.limit };
  },
  async gateFacts(sql, incidentIds) {
    const facts = new Map<number, GateFacts>();
    if (incidentIds.length === 0) return facts;
    const of = (id: number) => facts.get(id) ?? facts.set(id, { attempts: [] }).get(id)!;
    for (const row of await sql.rows(`SELECT ${attemptFields} FROM remediation_attempts WHERE incident_id = ANY($1::bigint[]) ORDER BY incident_id, attempt`, [incidentIds])) {
      const attempt = present<AttemptRecord>(row);
      of(attempt.incidentId).attempts.push(attempt);
    }
    for (const row of await sql.rows(gateLines, [incidentIds])) {
      const line = present<IncidentEventRecord>(row);
      of(line.incidentId)[line.kind === "gate" ? "gate" : "escalation"] = line;
    }
    return facts;
  },
  runSummary(sql, id) {
    // One snapshot for the run, its targets and its steps.
    return sql.atomic(
      async (read) => {
        const [row] = await read.rows(`SELECT ${runColumns} FROM runs WHERE id = $1`, [id]);
        if (!row) return undefined;
        const targets = (await read.rows(`SELECT ${targetColumns} FROM run_targets WHERE run_id = $1 ORDER BY batch, target ${BINARY}`, [id])).map((r) => toTarget(id, r));
        const steps = (await read.rows(`SELECT ${stepSummaryColumns} FROM step_results WHERE run_id = $1 ORDER BY id`, [id])).map((r) => stepSummaryFromRow(id, r));
        return { run: toRun(row), targets, steps };
      },
      { isolation: "repeatable read" },
    );
  },
  async runTargets(sql, runIds) {
    const out = new Map<string, TargetRecord[]>();
    if (runIds.length === 0) return out;
    const rows = await sql.rows(`SELECT run_id, ${targetColumns} FROM run_targets WHERE run_id = ANY($1::text[]) ORDER BY run_id ${BINARY}, batch, target ${BINARY}`, [runIds]);
    for (const row of rows) {
      const runId = row.run_id as string;
      const list = out.get(runId) ?? out.set(runId, []).get(runId)!;
      list.push(toTarget(runId, row));
    }
    return out;
  },
  async stepOutput(sql, runId, target, phase, index) {
    const [row] = await sql.rows<{ stdout: string; stderr: string }>(
      "SELECT stdout, stderr FROM step_results WHERE run_id = $1 AND target = $2 AND phase = $3 AND idx = $4 ORDER BY id DESC LIMIT 1",
      [runId, target, phase, index],
    );
    return row;
  },
};
