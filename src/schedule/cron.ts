import type { LoadedConfig, Workflow } from "../config/index.ts";
import { parseDuration } from "../time/index.ts";

/** A workflow's `schedule:` with its defaults: the shorthand `schedule: "*\/5 * * * *"` is `{ cron: "*\/5 * * * *" }`. */
export interface ScheduleSettings {
  cron: string;
  timezone: string;
  /** The `jitter:` as written ("30s"), if any. */
  jitter?: string;
  concurrency: "forbid" | "allow";
  missed: "skip" | "once";
}

/** A schedule ready to compute its times; every time is epoch ms. */
export interface CompiledSchedule extends ScheduleSettings {
  /** The workflow's name, which is the schedule's. */
  name: string;
  jitterMs: number;
  /** The first scheduled time strictly after `after`, or undefined when the expression has no time left. */
  next(after: number): number | undefined;
  /** The latest scheduled time at or before `atOrBefore`, or undefined when there is none. */
  latest(atOrBefore: number): number | undefined;
  /** The next `count` scheduled times strictly after `after`. */
  upcoming(after: number, count: number): number[];
}

export function scheduleSettings(schedule: NonNullable<Workflow["schedule"]>): ScheduleSettings {
  if (typeof schedule === "string") return { cron: schedule, timezone: "UTC", concurrency: "forbid", missed: "skip" };
  return { cron: schedule.cron, timezone: schedule.timezone, ...(schedule.jitter ? { jitter: schedule.jitter } : {}), concurrency: schedule.concurrency, missed: schedule.missed };
}

/**
 * The config's schedules, in the config's order, with croner loaded only when
 * there is one. The expressions and zones were checked when the config
 * loaded; a time zone is read with every time computed, so the same config
 * gives the same times on every server whatever its own zone.
 */
export async function compileSchedules(loaded: LoadedConfig): Promise<CompiledSchedule[]> {
  const scheduled = Object.entries(loaded.config.workflows).filter(([, workflow]) => workflow.schedule !== undefined);
  if (scheduled.length === 0) return [];
  const { Cron } = await import("croner");
  return scheduled.map(([name, workflow]) => {
    const settings = scheduleSettings(workflow.schedule!);
    const cron = new Cron(settings.cron, { paused: true, mode: "5-or-6-parts", timezone: settings.timezone });
    // The schema checked the duration's form.
    const jitterMs = settings.jitter ? parseDuration(settings.jitter, "jitter") : 0;
    return {
      name,
      ...settings,
      jitterMs,
      next: (after) => cron.nextRun(new Date(after))?.getTime(),
      // croner's previous runs are strictly before the reference: one ms later includes the time itself.
      latest: (atOrBefore) => cron.previousRuns(1, new Date(atOrBefore + 1))[0]?.getTime(),
      upcoming: (after, count) => cron.nextRuns(count, new Date(after)).map((d) => d.getTime()),
    };
  });
}
