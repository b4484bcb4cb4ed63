import { BINARY, present, type StoreOn } from "./postgres-sql.ts";
import type { ScheduleFireRecord, ScheduleStore } from "./types.ts";

const fireFields = `schedule, at, fired_at AS "firedAt", replica, status, run_id AS "runId", finished_at AS "finishedAt", detail`;

/** Scheduled runbooks' fires on PostgreSQL: the primary key (schedule, at) lets one caller alone claim a scheduled time. */
export const postgresScheduleStore: StoreOn<ScheduleStore> = {
  async claimScheduleFire(sql, fire) {
    const inserted = await sql.changed(
      `INSERT INTO schedule_fires (schedule, at, fired_at, replica, status, run_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (schedule, at) DO NOTHING`,
      [fire.schedule, fire.at, fire.firedAt, fire.replica, fire.status, fire.runId ?? null, fire.detail],
    );
    return inserted > 0;
  },
  // One statement for every patch: a NULL parameter leaves its column as it is.
  async updateScheduleFire(sql, schedule, at, patch) {
    await sql.changed(
      `UPDATE schedule_fires SET status = COALESCE($3, status), run_id = COALESCE($4, run_id), finished_at = COALESCE($5, finished_at), detail = COALESCE($6, detail)
        WHERE schedule = $1 AND at = $2`,
      [schedule, at, patch.status ?? null, patch.runId ?? null, patch.finishedAt ?? null, patch.detail],
    );
  },
  async scheduleFires(sql, schedule, options = {}) {
    const rows = await sql.rows(`SELECT ${fireFields} FROM schedule_fires WHERE schedule = $1 ORDER BY at DESC LIMIT $2`, [schedule, options.limit ?? 100]);
    return rows.map((row) => present<ScheduleFireRecord>(row));
  },
  async lastScheduleFires(sql) {
    const rows = await sql.rows(`SELECT * FROM (SELECT DISTINCT ON (schedule) ${fireFields} FROM schedule_fires ORDER BY schedule, at DESC) newest ORDER BY schedule ${BINARY}`);
    return rows.map((row) => present<ScheduleFireRecord>(row));
  },
  async runningScheduleFires(sql) {
    const rows = await sql.rows(`SELECT ${fireFields} FROM schedule_fires WHERE status = 'running' ORDER BY at, schedule ${BINARY}`);
    return rows.map((row) => present<ScheduleFireRecord>(row));
  },
};
