import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import type { ScheduleFireRecord, ScheduleStore } from "./types.ts";

/** One row per scheduled time of each schedule: the primary key is what lets one caller alone claim it. */
const scheduleSchema = `
CREATE TABLE IF NOT EXISTS schedule_fires (
  schedule TEXT NOT NULL,
  at INTEGER NOT NULL,
  fired_at INTEGER NOT NULL,
  replica TEXT NOT NULL,
  status TEXT NOT NULL,
  run_id TEXT,
  finished_at INTEGER,
  detail TEXT,
  PRIMARY KEY (schedule, at)
);
CREATE INDEX IF NOT EXISTS schedule_fires_running ON schedule_fires (at) WHERE status = 'running';
`;

/** Creates the schedule table; a journal written before it gains it in place. */
export function migrateSchedules(db: Database): void {
  db.exec(scheduleSchema);
}

type FireRow = Omit<ScheduleFireRecord, "runId" | "finishedAt" | "detail"> & { runId: string | null; finishedAt: number | null; detail: string | null };

const fireFields = "schedule, at, fired_at AS firedAt, replica, status, run_id AS runId, finished_at AS finishedAt, detail";

function toFire(row: FireRow): ScheduleFireRecord {
  const { runId, finishedAt, detail, ...rest } = row;
  return { ...rest, ...(runId !== null ? { runId } : {}), ...(finishedAt !== null ? { finishedAt } : {}), ...(detail !== null ? { detail } : {}) };
}

/** Scheduled runbooks' fires on SQLite (schedule-types.ts says what each promises). */
export function sqliteScheduleStore(db: Database): Synchronous<ScheduleStore> {
  const insertFire = db.prepare(`INSERT INTO schedule_fires (schedule, at, fired_at, replica, status, run_id, detail)
    VALUES ($schedule, $at, $firedAt, $replica, $status, $runId, $detail) ON CONFLICT (schedule, at) DO NOTHING`);
  // One statement for every patch: a NULL parameter leaves its column as it is.
  const updateFire = db.prepare(`UPDATE schedule_fires SET status = COALESCE($status, status), run_id = COALESCE($runId, run_id),
    finished_at = COALESCE($finishedAt, finished_at), detail = COALESCE($detail, detail) WHERE schedule = $schedule AND at = $at`);
  const selectFires = db.prepare<FireRow, { schedule: string; limit: number }>(`SELECT ${fireFields} FROM schedule_fires WHERE schedule = $schedule ORDER BY at DESC LIMIT $limit`);
  // SQLite takes the bare columns of a MAX() aggregate from the row that holds the maximum.
  const selectLast = db.prepare<FireRow & { newest: number }, []>(`SELECT ${fireFields}, MAX(at) AS newest FROM schedule_fires GROUP BY schedule ORDER BY schedule`);
  const selectRunning = db.prepare<FireRow, []>(`SELECT ${fireFields} FROM schedule_fires WHERE status = 'running' ORDER BY at, schedule`);

  return {
    claimScheduleFire(fire) {
      return insertFire.run({ ...fire, runId: fire.runId ?? null, detail: fire.detail ?? null }).changes > 0;
    },
    updateScheduleFire(schedule, at, patch) {
      updateFire.run({ schedule, at, status: patch.status ?? null, runId: patch.runId ?? null, finishedAt: patch.finishedAt ?? null, detail: patch.detail ?? null });
    },
    scheduleFires(schedule, options = {}) {
      return selectFires.all({ schedule, limit: options.limit ?? 100 }).map(toFire);
    },
    lastScheduleFires() {
      return selectLast.all().map(({ newest: _, ...row }) => toFire(row));
    },
    runningScheduleFires() {
      return selectRunning.all().map(toFire);
    },
  };
}
