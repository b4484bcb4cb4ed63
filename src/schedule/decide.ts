import { createHash } from "node:crypto";
import type { CompiledSchedule } from "./cron.ts";
import type { ScheduleFireRecord } from "./types.ts";

// What the scheduler decides, as pure functions of the schedule, the journal's
// fires and the time: each decision can be tested on its own, with any clock.

/**
 * How long after its scheduled time a fire starts: up to the schedule's
 * jitter, the same on every server for a given (schedule, time), so servers
 * wake together to claim it and the delay does not shrink with their number
 * (a random delay per server would start it at the least of them).
 */
export function jitterDelay(schedule: Pick<CompiledSchedule, "name" | "jitterMs">, at: number): number {
  if (schedule.jitterMs <= 0) return 0;
  const digest = createHash("sha256").update(`${schedule.name}\n${at}`).digest();
  return Math.floor((digest.readUInt32BE(0) / 2 ** 32) * schedule.jitterMs);
}

/** When a server wakes to claim the fire of `at`. */
export function wakeTime(schedule: Pick<CompiledSchedule, "name" | "jitterMs">, at: number): number {
  return at + jitterDelay(schedule, at);
}

/**
 * The time a wake-up fires. Normally the one it waited for; when the process
 * woke late (a stalled event loop, a suspended host) and later times are due
 * too, the latest due one: the times in between are missed, as they would be
 * with no server up.
 */
export function dueTime(schedule: Pick<CompiledSchedule, "name" | "jitterMs" | "latest">, waitedFor: number, now: number): number {
  let latest = schedule.latest(now);
  // With jitter, the latest time may not be due yet: step back to one that is.
  while (latest !== undefined && latest > waitedFor && wakeTime(schedule, latest) > now) latest = schedule.latest(latest - 1);
  return latest !== undefined && latest > waitedFor ? latest : waitedFor;
}

/**
 * `missed: once` at start: the latest scheduled time that passed since the
 * schedule's last fire, if one did. A schedule that never fired has missed
 * nothing: there is no telling it was ever meant to run before.
 */
export function missedTime(schedule: Pick<CompiledSchedule, "missed" | "latest">, last: Pick<ScheduleFireRecord, "at"> | undefined, now: number): number | undefined {
  if (schedule.missed !== "once" || !last) return undefined;
  const latest = schedule.latest(now);
  return latest !== undefined && latest > last.at ? latest : undefined;
}

/**
 * `concurrency: forbid`: why the fire of `at` is skipped (an earlier fire of
 * the schedule still running on a live server), or undefined when it runs.
 */
export function forbiddenBy(schedule: Pick<CompiledSchedule, "name" | "concurrency">, at: number, running: readonly ScheduleFireRecord[]): string | undefined {
  if (schedule.concurrency !== "forbid") return undefined;
  const earlier = running.filter((fire) => fire.schedule === schedule.name && fire.at < at).sort((a, b) => b.at - a.at)[0];
  if (!earlier) return undefined;
  return `the run for ${new Date(earlier.at).toISOString()} is still running${earlier.runId ? ` (run ${earlier.runId})` : ""} on ${earlier.replica} (concurrency: forbid)`;
}
