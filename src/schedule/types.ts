import type { LoadedConfig } from "../config/index.ts";
import type { EventSink } from "../engine/index.ts";
import type { Journal } from "../journal/index.ts";
import type { Sink } from "../observe/index.ts";

/** One claimed scheduled time as the journal keeps it (journal/schedule-types.ts). */
export type ScheduleFireRecord = Awaited<ReturnType<Journal["scheduleFires"]>>[number];
export type ScheduleFireStatus = ScheduleFireRecord["status"];

/**
 * What the scheduler reports. Times are epoch ms; `at` is when the fact
 * happened, `scheduledFor` the scheduled time the fire is for (its identity
 * in the journal). Field names are a contract for users' scripts: add, never
 * rename.
 */
export type ScheduleEvent =
  /** This server won the fire and started its run; `missed` when it makes up for a time no server was up for. */
  | { type: "schedule.started"; schedule: string; scheduledFor: number; runId: string; replica: string; delayMs: number; missed?: true; at: number }
  | { type: "schedule.finished"; schedule: string; scheduledFor: number; runId?: string; status: ScheduleFireStatus; durationMs: number; detail: string; at: number }
  /** This server won the fire and recorded it skipped (concurrency: forbid). */
  | { type: "schedule.skipped"; schedule: string; scheduledFor: number; reason: string; at: number }
  /** A fire left running by a server that is gone, now recorded as interrupted. */
  | { type: "schedule.interrupted"; schedule: string; scheduledFor: number; replica: string; runId?: string; at: number }
  /** Something the scheduler could not do (the journal failed); it goes on with the next time. */
  | { type: "schedule.error"; schedule?: string; scheduledFor?: number; message: string; at: number };

/** The scheduler's time: the wall clock its times are read on, and one timer. Tests hand in a clock they move. */
export interface ScheduleClock {
  now(): number;
  /** Calls `wake` once, `ms` from now; the returned function cancels it. */
  after(ms: number, wake: () => void): () => void;
}

export interface ScheduleOptions {
  loaded: LoadedConfig;
  journal: Journal;
  /**
   * Who claims fires: the server's replica id (unique per process start),
   * recorded on each fire it wins. Default: `host:pid:start`.
   */
  replicaId?: string;
  /**
   * Whether the replica that claimed a fire still lives: a "running" fire of
   * a replica that does not is recorded as interrupted (at start, and when a
   * later time of any schedule fires). Default: only this process lives,
   * which is right for one server; several servers sharing a journal must
   * pass their cluster's view (the replicas with a recent heartbeat).
   */
  isAlive?: (replica: string) => boolean | Promise<boolean>;
  /** Run events go to the journal and to these (metrics, the terminal). */
  sinks?: readonly EventSink[];
  /** The scheduler's own events (the serve terminal, --json, metrics). */
  events?: Sink<ScheduleEvent>;
  /** Aborted: stops as stop(0) does (no new fire; runs in flight cancelled). */
  signal?: AbortSignal;
  clock?: ScheduleClock;
}

/** What a schedule looks like now: for `opskit schedules`, the API and the dashboard. */
export interface ScheduleStatus {
  name: string;
  cron: string;
  timezone: string;
  jitter?: string;
  concurrency: "forbid" | "allow";
  missed: "skip" | "once";
  /** The next scheduled times (before any jitter). */
  next: number[];
  /** The newest fire in the journal, by any server. */
  last?: ScheduleFireRecord;
}

export interface ScheduleHandle {
  /** Every schedule with its next times and its last fire. */
  status(count?: number): Promise<ScheduleStatus[]>;
  /**
   * Stops the timers (no new fire), waits up to `graceMs` (default 0) for
   * runs in flight, then cancels those left (their fires end interrupted),
   * and resolves once all have ended.
   */
  stop(graceMs?: number): Promise<{ finished: number; cancelled: number }>;
}
