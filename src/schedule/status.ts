import type { LoadedConfig } from "../config/index.ts";
import type { Journal } from "../journal/index.ts";
import { compileSchedules, type CompiledSchedule } from "./cron.ts";
import type { ScheduleStatus } from "./types.ts";

/** Each schedule with its next `count` times after `now` and its newest fire in the journal. */
export async function describeSchedules(schedules: readonly CompiledSchedule[], journal: Pick<Journal, "lastScheduleFires">, now: number, count = 3): Promise<ScheduleStatus[]> {
  if (schedules.length === 0) return [];
  const last = new Map((await journal.lastScheduleFires()).map((fire) => [fire.schedule, fire]));
  return schedules.map((schedule) => {
    const fire = last.get(schedule.name);
    return {
      name: schedule.name,
      cron: schedule.cron,
      timezone: schedule.timezone,
      ...(schedule.jitter ? { jitter: schedule.jitter } : {}),
      concurrency: schedule.concurrency,
      missed: schedule.missed,
      next: schedule.upcoming(now, count),
      ...(fire ? { last: fire } : {}),
    };
  });
}

/** The config's schedules as `opskit schedules` shows them, without starting any. */
export async function listSchedules(loaded: LoadedConfig, journal: Pick<Journal, "lastScheduleFires">, now = Date.now(), count = 3): Promise<ScheduleStatus[]> {
  return describeSchedules(await compileSchedules(loaded), journal, now, count);
}
