// Scheduled runbooks: each scheduled time of a workflow fires once, whatever
// number of servers share the journal, because the fire is a row with a
// unique key (schedule, time) and only the caller whose insert wins runs it.

export type ScheduleFireStatus = "running" | "succeeded" | "failed" | "skipped" | "interrupted";

export interface ScheduleFireRecord {
  /** The schedule's name (the workflow's). */
  schedule: string;
  /** The scheduled time this fire is for, epoch ms (before any jitter). */
  at: number;
  /** When it actually started (after jitter), epoch ms. */
  firedAt: number;
  /** The replica (ReplicaRecord id, or the process's) that claimed it. */
  replica: string;
  status: ScheduleFireStatus;
  runId?: string;
  finishedAt?: number;
  /** Why it was skipped or how it failed. */
  detail?: string;
}

export interface ScheduleStore {
  /**
   * Claims the fire of `schedule` at `at`: inserts its row unless one exists.
   * Resolves true for exactly one caller across every process sharing the
   * journal (the unique key), false for the others.
   */
  claimScheduleFire(fire: Omit<ScheduleFireRecord, "finishedAt">): Promise<boolean>;
  /** Updates a claimed fire (its run id, its outcome). */
  updateScheduleFire(schedule: string, at: number, patch: Partial<Pick<ScheduleFireRecord, "status" | "runId" | "finishedAt" | "detail">>): Promise<void>;
  /** Newest first (by `at`). */
  scheduleFires(schedule: string, options?: { limit?: number }): Promise<ScheduleFireRecord[]>;
  /** The newest fire of each schedule that has any, by schedule name. */
  lastScheduleFires(): Promise<ScheduleFireRecord[]>;
  /** Fires still "running" (a server died under them, or they are under way). */
  runningScheduleFires(): Promise<ScheduleFireRecord[]>;
}
