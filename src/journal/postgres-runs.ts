import { hostname } from "node:os";
import { jsonLine } from "../ui/index.ts";
import { stepFromRow, stepProgressFromRow } from "./columns.ts";
import { BINARY, json, type Row, type Sql, type StoreOn } from "./postgres-sql.ts";
import type { JournalEvent, RunEventRecords, RunRecord, RunStatus, RunStore, StepProgressRecord, TargetRecord } from "./types.ts";

// Columns named, never *: a statement prepared by one replica stays valid when a newer one adds a column.
export const runColumns = "id, kind, name, status, params, started_at, finished_at, summary, resumed_from, owner_pid, owner_host, trace_id";
export const targetColumns = "target, batch, status, changed, rollback_owed, started_at, finished_at, duration_ms, error";
const stepColumns = "target, phase, idx, name, action, status, exit_code, stdout, stderr, duration_ms, attempts, error, started_at";

export function toRun(row: Row): RunRecord {
  return {
    id: row.id as string,
    kind: row.kind as RunRecord["kind"],
    name: row.name as string,
    status: row.status as RunStatus,
    params: row.params as RunRecord["params"],
    startedAt: row.started_at as string,
    ...(row.finished_at ? { finishedAt: row.finished_at as string } : {}),
    ...(row.summary ? { summary: row.summary as Record<string, unknown> } : {}),
    ...(row.resumed_from ? { resumedFrom: row.resumed_from as string } : {}),
    ...(row.owner_pid != null && row.owner_host ? { owner: { pid: row.owner_pid as number, host: row.owner_host as string } } : {}),
    ...(row.trace_id ? { traceId: row.trace_id as string } : {}),
  };
}

export function toTarget(runId: string, r: Row): TargetRecord {
  return {
    runId,
    target: r.target as string,
    batch: r.batch as number,
    status: r.status as TargetRecord["status"],
    changed: r.changed as boolean,
    rollbackOwed: r.rollback_owed as boolean,
    ...(r.started_at ? { startedAt: r.started_at as string } : {}),
    ...(r.finished_at ? { finishedAt: r.finished_at as string } : {}),
    ...(r.duration_ms !== null ? { durationMs: r.duration_ms as number } : {}),
    ...(r.error ? { error: r.error as string } : {}),
  };
}

function toProgress(runId: string, r: Row): StepProgressRecord {
  // pg parses the json column already.
  return stepProgressFromRow(runId, r, (data) => data as Record<string, unknown>);
}

const upsertTarget = `INSERT INTO run_targets (run_id, target, batch, status, changed, rollback_owed, started_at, finished_at, duration_ms, error)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (run_id, target) DO UPDATE SET batch = excluded.batch, status = excluded.status, changed = excluded.changed,
    rollback_owed = excluded.rollback_owed, started_at = excluded.started_at, finished_at = excluded.finished_at,
    duration_ms = excluded.duration_ms, error = excluded.error`;

// The result and the step's progress as finished, in one statement (one commit, one round trip).
const recordStep = `WITH result AS (
    INSERT INTO step_results (run_id, target, phase, idx, name, action, status, exit_code, stdout, stderr, duration_ms, attempts, error, started_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
  )
  INSERT INTO step_progress (run_id, target, phase, idx, name, started_at, finished_at, status, data, resumed_from)
  VALUES ($1, $2, $3, $4, $5, $14, $15, $7, $16, $17)
  ON CONFLICT (run_id, target, phase, idx) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status, data = excluded.data, resumed_from = excluded.resumed_from`;

const startProgress = `INSERT INTO step_progress (run_id, target, phase, idx, name, started_at) VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (run_id, target, phase, idx) DO UPDATE SET name = excluded.name, started_at = excluded.started_at, finished_at = NULL, status = NULL, data = NULL`;

// Each step's progress with its latest result (the highest id among that step's results).
const selectProgress = `SELECT p.target, p.phase, p.idx, p.name, p.started_at, p.finished_at, p.status, p.data, p.resumed_from,
    r.action, r.exit_code, r.stdout, r.stderr, r.duration_ms, r.attempts, r.error
  FROM step_progress p LEFT JOIN LATERAL (
    SELECT action, exit_code, stdout, stderr, duration_ms, attempts, error FROM step_results s
    WHERE s.run_id = p.run_id AND s.target = p.target AND s.phase = p.phase AND s.idx = p.idx ORDER BY s.id DESC LIMIT 1
  ) r ON true
  WHERE p.run_id = $1 ORDER BY p.target ${BINARY}, p.phase ${BINARY}, p.idx`;

/** Run ids whose next event number this process remembers at most; past it the memory starts over. */
const REMEMBERED_RUNS = 10_000;

/**
 * The next event number of a run, handed out in the order events are
 * appended (the journal sink appends in emit order): from this process's
 * memory, seeded from the table once per run. Numbers of a rolled-back write
 * are not reused, as in the SQLite journal.
 */
function nextSequence(sql: Sql, runId: string): Promise<number> {
  const remembered = sql.memory.eventSequence;
  if (!remembered.has(runId) && remembered.size >= REMEMBERED_RUNS) remembered.clear();
  const previous = remembered.get(runId) ?? sql.rows<{ seq: number | null }>("SELECT max(seq) AS seq FROM events WHERE run_id = $1", [runId]).then((rows) => rows[0]?.seq ?? 0);
  const next = previous.then((seq) => seq + 1);
  // A failed lookup is not remembered: the next event asks the table again.
  remembered.set(runId, next.catch(() => previous));
  next.catch(() => remembered.delete(runId));
  return next;
}

async function appendEvent(sql: Sql, runId: string, type: string, payload: Record<string, unknown>): Promise<void> {
  const seq = await nextSequence(sql, runId);
  // Stored exactly as --json prints it (durations rounded the same way).
  await sql.changed("INSERT INTO events (run_id, seq, type, at, payload) VALUES ($1, $2, $3, $4, $5)", [runId, seq, type, new Date().toISOString(), jsonLine(payload)]);
}

const store: StoreOn<Omit<RunStore, "recordRunEvent">> = {
  async startRun(sql, run) {
    const startedAt = run.startedAt ?? new Date().toISOString();
    const owner = { pid: process.pid, host: hostname() };
    await sql.changed(
      "INSERT INTO runs (id, kind, name, status, params, started_at, resumed_from, owner_pid, owner_host, trace_id) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9)",
      [run.id, run.kind, run.name, json(run.params), startedAt, run.resumedFrom ?? null, owner.pid, owner.host, run.traceId ?? null],
    );
    return { ...run, status: "running", startedAt, owner };
  },
  async finishRun(sql, runId, status, summary) {
    await sql.changed("UPDATE runs SET status = $2, finished_at = $3, summary = $4 WHERE id = $1", [runId, status, new Date().toISOString(), json(summary)]);
  },
  async putTarget(sql, t) {
    await sql.changed(upsertTarget, [t.runId, t.target, t.batch, t.status, t.changed, t.rollbackOwed, t.startedAt ?? null, t.finishedAt ?? null, t.durationMs ?? null, t.error]);
  },
  async putStep(sql, s) {
    await sql.changed(recordStep, [
      s.runId, s.target, s.phase, s.index, s.name, s.action, s.status, s.exitCode, s.stdout, s.stderr, s.durationMs, s.attempts, s.error, s.startedAt,
      new Date().toISOString(), s.data === undefined ? null : json(s.data), s.resumedFrom ?? null,
    ]);
  },
  async startStep(sql, s) {
    await sql.changed(startProgress, [s.runId, s.target, s.phase, s.index, s.name, s.startedAt]);
  },
  async stepProgress(sql, runId) {
    return (await sql.rows(selectProgress, [runId])).map((r) => toProgress(runId, r));
  },
  appendEvent,
  async listRuns(sql, options = {}) {
    const rows = await sql.rows(`SELECT ${runColumns} FROM runs ORDER BY started_at ${BINARY} DESC, id ${BINARY} DESC LIMIT $1`, [options.limit ?? 20]);
    return rows.map(toRun);
  },
  getRun(sql, id) {
    // One snapshot for the run, its targets and its steps.
    return sql.atomic(async (read) => {
      const [row] = await read.rows(`SELECT ${runColumns} FROM runs WHERE id = $1`, [id]);
      if (!row) return undefined;
      const targets = (await read.rows(`SELECT ${targetColumns} FROM run_targets WHERE run_id = $1 ORDER BY batch, target ${BINARY}`, [id])).map((r) => toTarget(id, r));
      const steps = (await read.rows(`SELECT ${stepColumns} FROM step_results WHERE run_id = $1 ORDER BY id`, [id])).map((r) => stepFromRow(id, r));
      return { run: toRun(row), targets, steps };
    }, { isolation: "repeatable read" });
  },
  async events(sql, runId) {
    const rows = await sql.rows<{ seq: number; type: string; at: string; payload: Record<string, unknown> }>("SELECT seq, type, at, payload FROM events WHERE run_id = $1 ORDER BY seq", [runId]);
    return rows.map((r): JournalEvent => ({ seq: r.seq, type: r.type, at: r.at, payload: r.payload }));
  },
};

async function recordOne(sql: Sql, r: RunEventRecords): Promise<void> {
  if (r.event) await appendEvent(sql, r.event.runId, r.event.type, r.event.payload);
  for (const target of r.targets ?? []) await store.putTarget(sql, target);
  if (r.stepStarted) await store.startStep(sql, r.stepStarted);
  if (r.step) await store.putStep(sql, r.step);
  if (r.finished) await store.finishRun(sql, r.finished.runId, r.finished.status, r.finished.summary);
}

/** Runs, their targets, step results and progress, and the event stream, on PostgreSQL. */
export const postgresRunStore: StoreOn<RunStore> = {
  ...store,
  // Everything one event (or a list of them) changes, in one commit: all or none.
  recordRunEvent(sql, records) {
    return sql.atomic(async (tx) => {
      if (Array.isArray(records)) for (const r of records as readonly RunEventRecords[]) await recordOne(tx, r);
      else await recordOne(tx, records as RunEventRecords);
    });
  },
};
