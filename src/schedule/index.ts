// Scheduled runbooks: a workflow's `schedule:` (cron, time zone, jitter,
// overlap and catch-up) run by `opskit serve`, each scheduled time exactly
// once across every server sharing the journal. croner loads only here.
export { startSchedules, systemClock } from "./scheduler.ts";
export { listSchedules, describeSchedules } from "./status.ts";
export { compileSchedules, scheduleSettings, type CompiledSchedule, type ScheduleSettings } from "./cron.ts";
export { dueTime, forbiddenBy, jitterDelay, missedTime, wakeTime } from "./decide.ts";
export type { ScheduleClock, ScheduleEvent, ScheduleFireRecord, ScheduleFireStatus, ScheduleHandle, ScheduleOptions, ScheduleStatus } from "./types.ts";
