/** What the journal stores: runs, their targets, every step result, and the event stream. */

export type RunStatus = "running" | "succeeded" | "failed" | "interrupted";
export type TargetStatus = "pending" | "running" | "ok" | "changed" | "failed" | "unreachable" | "skipped" | "rolled_back";
export type StepStatus = "ok" | "changed" | "failed" | "skipped" | "unreachable";
export type StepPhase = "pre" | "main" | "post" | "on_failure" | "rollback";

export interface RunParams {
  /** Config files the run was loaded from, how they were found (-c, cwd), and the environment. */
  configFiles: string[];
  configPath?: string;
  cwd: string;
  workflow?: string;
  env?: string;
  limit?: string;
  /** Effective vars after --var overrides: a resume reuses exactly these. */
  vars: Record<string, unknown>;
  /** The ad-hoc command of `opskit exec`. */
  command?: string;
  selector?: string;
  dryRun: boolean;
  concurrency?: number;
}

export interface RunRecord {
  id: string;
  kind: "workflow" | "exec";
  name: string;
  status: RunStatus;
  params: RunParams;
  startedAt: string;
  finishedAt?: string;
  summary?: Record<string, unknown>;
  resumedFrom?: string;
}

export interface TargetRecord {
  runId: string;
  target: string;
  batch: number;
  status: TargetStatus;
  changed: boolean;
  /** A rollback this target still owes (the run stopped before it ran). */
  rollbackOwed: boolean;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  error?: string;
}

export interface StepRecord {
  runId: string;
  target: string;
  phase: StepPhase;
  index: number;
  name: string;
  action: string;
  status: StepStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  attempts: number;
  error?: string;
  startedAt: string;
}

export interface JournalEvent {
  seq: number;
  type: string;
  at: string;
  payload: Record<string, unknown>;
}

/** The journal's contract; SQLite is the embedded implementation, PostgreSQL comes later. */
export interface Journal {
  readonly location: string;
  startRun(run: Omit<RunRecord, "status" | "startedAt"> & { startedAt?: string }): RunRecord;
  finishRun(runId: string, status: RunStatus, summary: Record<string, unknown>): void;
  putTarget(record: TargetRecord): void;
  putStep(record: StepRecord): void;
  appendEvent(runId: string, type: string, payload: Record<string, unknown>): void;
  listRuns(options?: { limit?: number }): RunRecord[];
  getRun(id: string): { run: RunRecord; targets: TargetRecord[]; steps: StepRecord[] } | undefined;
  events(runId: string): JournalEvent[];
  close(): void;
}
