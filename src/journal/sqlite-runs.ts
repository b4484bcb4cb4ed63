import type { Database } from "bun:sqlite";
import { hostname } from "node:os";
import { jsonLine } from "../ui/index.ts";
import { stepFromRow, stepProgressFromRow } from "./columns.ts";
import type { Synchronous } from "./sqlite-async.ts";
import type { JournalEvent, RunEventRecords, RunRecord, RunStatus, RunStore, StepRecord, TargetRecord } from "./types.ts";

/** Runs, their targets, step results and progress, and the event stream. */
export const runSchema = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  params TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary TEXT,
  resumed_from TEXT
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS run_targets (
  run_id TEXT NOT NULL REFERENCES runs (id),
  target TEXT NOT NULL,
  batch INTEGER NOT NULL,
  status TEXT NOT NULL,
  changed INTEGER NOT NULL,
  rollback_owed INTEGER NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  duration_ms REAL,
  error TEXT,
  PRIMARY KEY (run_id, target)
);
CREATE TABLE IF NOT EXISTS step_results (
  run_id TEXT NOT NULL REFERENCES runs (id),
  target TEXT NOT NULL,
  phase TEXT NOT NULL,
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER,
  stdout TEXT NOT NULL,
  stderr TEXT NOT NULL,
  duration_ms REAL NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT,
  started_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS step_results_run ON step_results (run_id, target);
-- Each step's progress on each target, written before the step's action starts and when it
-- finishes: a run cut off (SIGKILL, a power loss) shows which steps finished, which one was under
-- way, and a retry or resume starts from the first unfinished step.
CREATE TABLE IF NOT EXISTS step_progress (
  run_id TEXT NOT NULL REFERENCES runs (id),
  target TEXT NOT NULL,
  phase TEXT NOT NULL,
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT,
  data TEXT,
  resumed_from TEXT,
  PRIMARY KEY (run_id, target, phase, idx)
);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL REFERENCES runs (id),
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  at TEXT NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
`;

export interface RunRow {
  id: string;
  kind: string;
  name: string;
  status: string;
  params: string;
  started_at: string;
  finished_at: string | null;
  summary: string | null;
  resumed_from: string | null;
  owner_pid?: number | null;
  owner_host?: string | null;
  trace_id?: string | null;
}

export function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    kind: row.kind as RunRecord["kind"],
    name: row.name,
    status: row.status as RunStatus,
    params: JSON.parse(row.params),
    startedAt: row.started_at,
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
    ...(row.summary ? { summary: JSON.parse(row.summary) } : {}),
    ...(row.resumed_from ? { resumedFrom: row.resumed_from } : {}),
    ...(row.owner_pid != null && row.owner_host ? { owner: { pid: row.owner_pid, host: row.owner_host } } : {}),
    ...(row.trace_id ? { traceId: row.trace_id } : {}),
  };
}

/** A run_targets row as its record. */
export function toTarget(runId: string, r: Record<string, unknown>): TargetRecord {
  return {
    runId,
    target: r.target as string,
    batch: r.batch as number,
    status: r.status as TargetRecord["status"],
    changed: r.changed === 1,
    rollbackOwed: r.rollback_owed === 1,
    ...(r.started_at ? { startedAt: r.started_at as string } : {}),
    ...(r.finished_at ? { finishedAt: r.finished_at as string } : {}),
    ...(r.duration_ms !== null ? { durationMs: r.duration_ms as number } : {}),
    ...(r.error ? { error: r.error as string } : {}),
  };
}

/**
 * Which process runs a run (owner_pid on owner_host): a run its process left
 * "running" when it was killed can then be told from one still under way.
 * A journal written before the columns existed gains them in place, under the write lock.
 */
export function migrateRunOwner(db: Database): void {
  const missing = () => !db.query<{ name: string }, []>("PRAGMA table_info(runs)").all().some((c) => c.name === "owner_pid");
  if (!missing()) return;
  db.transaction(() => {
    if (!missing()) return;
    db.exec("ALTER TABLE runs ADD COLUMN owner_pid INTEGER");
    db.exec("ALTER TABLE runs ADD COLUMN owner_host TEXT");
  }).immediate();
}

/**
 * The runs half of the SQLite journal, on a database that has `runSchema`:
 * synchronous, each method one statement or one transaction; sqlite-async.ts
 * puts the journal's asynchronous face on it.
 */
export function sqliteRunStore(db: Database): Synchronous<RunStore> {
  const sequence = new Map<string, number>();
  const insertRun = db.prepare(
    "INSERT INTO runs (id, kind, name, status, params, started_at, resumed_from, owner_pid, owner_host, trace_id) VALUES ($id, $kind, $name, 'running', $params, $startedAt, $resumedFrom, $ownerPid, $ownerHost, $traceId)",
  );
  const updateRun = db.prepare("UPDATE runs SET status = $status, finished_at = $finishedAt, summary = $summary WHERE id = $id");
  const upsertTarget = db.prepare(`INSERT INTO run_targets (run_id, target, batch, status, changed, rollback_owed, started_at, finished_at, duration_ms, error)
    VALUES ($runId, $target, $batch, $status, $changed, $rollbackOwed, $startedAt, $finishedAt, $durationMs, $error)
    ON CONFLICT (run_id, target) DO UPDATE SET batch = excluded.batch, status = excluded.status, changed = excluded.changed,
      rollback_owed = excluded.rollback_owed, started_at = excluded.started_at, finished_at = excluded.finished_at,
      duration_ms = excluded.duration_ms, error = excluded.error`);
  const insertStep = db.prepare(`INSERT INTO step_results (run_id, target, phase, idx, name, action, status, exit_code, stdout, stderr, duration_ms, attempts, error, started_at)
    VALUES ($runId, $target, $phase, $index, $name, $action, $status, $exitCode, $stdout, $stderr, $durationMs, $attempts, $error, $startedAt)`);
  const startProgress = db.prepare(`INSERT INTO step_progress (run_id, target, phase, idx, name, started_at) VALUES ($runId, $target, $phase, $index, $name, $startedAt)
    ON CONFLICT (run_id, target, phase, idx) DO UPDATE SET name = excluded.name, started_at = excluded.started_at, finished_at = NULL, status = NULL, data = NULL`);
  const finishProgress = db.prepare(`INSERT INTO step_progress (run_id, target, phase, idx, name, started_at, finished_at, status, data, resumed_from)
    VALUES ($runId, $target, $phase, $index, $name, $startedAt, $finishedAt, $status, $data, $resumedFrom)
    ON CONFLICT (run_id, target, phase, idx) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status, data = excluded.data, resumed_from = excluded.resumed_from`);
  const recordStep = db.transaction((s: StepRecord) => {
    insertStep.run({ runId: s.runId, target: s.target, phase: s.phase, index: s.index, name: s.name, action: s.action, status: s.status, exitCode: s.exitCode, stdout: s.stdout, stderr: s.stderr, durationMs: s.durationMs, attempts: s.attempts, error: s.error ?? null, startedAt: s.startedAt });
    finishProgress.run({
      runId: s.runId,
      target: s.target,
      phase: s.phase,
      index: s.index,
      name: s.name,
      startedAt: s.startedAt,
      finishedAt: new Date().toISOString(),
      status: s.status,
      data: s.data === undefined ? null : JSON.stringify(s.data),
      resumedFrom: s.resumedFrom ?? null,
    });
  });
  const selectProgress = db.prepare<Record<string, unknown>, { runId: string }>(`SELECT p.target, p.phase, p.idx, p.name, p.started_at, p.finished_at, p.status, p.data, p.resumed_from,
      r.action, r.exit_code, r.stdout, r.stderr, r.duration_ms, r.attempts, r.error
    FROM step_progress p LEFT JOIN step_results r
      ON r.rowid = (SELECT MAX(rowid) FROM step_results WHERE run_id = p.run_id AND target = p.target AND phase = p.phase AND idx = p.idx)
    WHERE p.run_id = $runId ORDER BY p.target, p.phase, p.idx`);
  const insertEvent = db.prepare("INSERT INTO events (run_id, seq, type, at, payload) VALUES ($runId, $seq, $type, $at, $payload)");
  const maxSeq = db.prepare<{ seq: number | null }, { runId: string }>("SELECT MAX(seq) AS seq FROM events WHERE run_id = $runId");


  const store: Synchronous<Omit<RunStore, "recordRunEvent">> = {
    startRun(run) {
      const startedAt = run.startedAt ?? new Date().toISOString();
      const owner = { pid: process.pid, host: hostname() };
      insertRun.run({ id: run.id, kind: run.kind, name: run.name, params: JSON.stringify(run.params), startedAt, resumedFrom: run.resumedFrom ?? null, ownerPid: owner.pid, ownerHost: owner.host, traceId: run.traceId ?? null });
      return { ...run, status: "running", startedAt, owner };
    },
    finishRun(runId, status, summary) {
      updateRun.run({ id: runId, status, finishedAt: new Date().toISOString(), summary: JSON.stringify(summary) });
    },
    putTarget(t) {
      upsertTarget.run({
        runId: t.runId,
        target: t.target,
        batch: t.batch,
        status: t.status,
        changed: t.changed ? 1 : 0,
        rollbackOwed: t.rollbackOwed ? 1 : 0,
        startedAt: t.startedAt ?? null,
        finishedAt: t.finishedAt ?? null,
        durationMs: t.durationMs ?? null,
        error: t.error ?? null,
      });
    },
    putStep(s) {
      recordStep(s);
    },
    startStep(s) {
      startProgress.run(s);
    },
    stepProgress(runId) {
      return selectProgress.all({ runId }).map((r) => stepProgressFromRow(runId, r, (data) => JSON.parse(data as string) as Record<string, unknown>));
    },
    appendEvent(runId, type, payload) {
      const seq = (sequence.get(runId) ?? maxSeq.get({ runId })?.seq ?? 0) + 1;
      sequence.set(runId, seq);
      // Stored exactly as --json prints it (durations rounded the same way).
      insertEvent.run({ runId, seq, type, at: new Date().toISOString(), payload: jsonLine(payload) });
    },
    listRuns(options = {}) {
      const rows = db.query<RunRow, { limit: number }>("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT $limit").all({ limit: options.limit ?? 20 });
      return rows.map(toRun);
    },
    getRun(id) {
      const row = db.query<RunRow, { id: string }>("SELECT * FROM runs WHERE id = $id").get({ id });
      if (!row) return undefined;
      const targets = db
        .query<Record<string, unknown>, { id: string }>("SELECT * FROM run_targets WHERE run_id = $id ORDER BY batch, target")
        .all({ id })
        .map((r) => toTarget(id, r));
      const steps = db
        .query<Record<string, unknown>, { id: string }>("SELECT * FROM step_results WHERE run_id = $id ORDER BY rowid")
        .all({ id })
        .map((r) => stepFromRow(id, r));
      return { run: toRun(row), targets, steps };
    },
    events(runId) {
      return db
        .query<{ seq: number; type: string; at: string; payload: string }, { runId: string }>("SELECT seq, type, at, payload FROM events WHERE run_id = $runId ORDER BY seq")
        .all({ runId })
        .map((r): JournalEvent => ({ seq: r.seq, type: r.type, at: r.at, payload: JSON.parse(r.payload) }));
    },
  };
  // One commit for all an event changes (BEGIN IMMEDIATE, as the journal's transactions): with server.fsync,
  // a step costs one flush at its start and one at its end, not one per row.
  const recordOne = (r: RunEventRecords) => {
    if (r.event) store.appendEvent(r.event.runId, r.event.type, r.event.payload);
    for (const target of r.targets ?? []) store.putTarget(target);
    if (r.stepStarted) store.startStep(r.stepStarted);
    if (r.step) store.putStep(r.step);
    if (r.finished) store.finishRun(r.finished.runId, r.finished.status, r.finished.summary);
  };
  const recordEvent = db.transaction((records: RunEventRecords | readonly RunEventRecords[]) => {
    if (Array.isArray(records)) for (const r of records as readonly RunEventRecords[]) recordOne(r);
    else recordOne(records as RunEventRecords);
  });
  return { ...store, recordRunEvent: (records) => recordEvent.immediate(records) };
}
