import { hostname } from "node:os";
import type { LoadedConfig } from "../config/index.ts";
import type { CompiledWorkflow } from "../engine/index.ts";
import { isOpsError } from "../errors.ts";
import { newRunId, type Journal, type RunStatus } from "../journal/index.ts";
import { configuredPolicy } from "../policy/index.ts";
import { compileConfigWorkflow, prepareWorkflow, startJournaledRun, type ApplyShadow } from "../runs/index.ts";
import { compileSchedules, type CompiledSchedule } from "./cron.ts";
import { dueTime, forbiddenBy, missedTime, wakeTime } from "./decide.ts";
import { describeSchedules } from "./status.ts";
import type { ScheduleClock, ScheduleEvent, ScheduleFireRecord, ScheduleFireStatus, ScheduleHandle, ScheduleOptions } from "./types.ts";

/**
 * A wait longer than this is cut into several: the wall clock the times are
 * read on can step (NTP, a resumed VM) while a timer counts monotonic time,
 * so the scheduler looks at the clock again at least once a minute.
 */
const MAX_WAIT_MS = 60_000;

export const systemClock: ScheduleClock = {
  now: () => Date.now(),
  after(ms, wake) {
    const timer = setTimeout(wake, ms);
    return () => clearTimeout(timer);
  },
};

/** A workflow's shadow: declaration applies to scheduled runs as to `opskit run`; shadow/ loads only for a workflow that has one. */
const applyShadow: ApplyShadow = async (compiled, options) => (await import("../shadow/index.ts")).shadowRun(compiled, options);

const fireKey = (schedule: string, at: number) => `${schedule}\n${at}`;

function describeFailure(error: unknown): string {
  if (isOpsError(error)) return error.hint ? `${error.message} (${error.hint})` : error.message;
  return error instanceof Error ? error.message : String(error);
}

function fireStatusOf(status: RunStatus): ScheduleFireStatus {
  return status === "succeeded" ? "succeeded" : status === "interrupted" ? "interrupted" : "failed";
}

/**
 * Starts every schedule of the config: one timer per schedule, waiting for
 * its next time (plus its jitter). At each time the scheduler claims the fire
 * in the journal, whose unique (schedule, time) key lets exactly one server
 * of all those sharing it win; the winner runs the workflow through the run
 * service and records the outcome on the fire. At start, fires left running
 * by servers that are gone become interrupted, and `missed: once` schedules
 * claim the latest time that passed since their last fire.
 */
export async function startSchedules(options: ScheduleOptions): Promise<ScheduleHandle> {
  const schedules = await compileSchedules(options.loaded);
  // Compiled before the first time comes, so a workflow that cannot run fails the start, with its file:line:col.
  const policy = schedules.length > 0 ? await configuredPolicy(options.loaded) : undefined;
  const workflows = new Map<string, CompiledWorkflow>();
  for (const schedule of schedules) workflows.set(schedule.name, await compileConfigWorkflow(options.loaded, schedule.name, policy));
  const scheduler = new Scheduler(options, schedules, workflows);
  await scheduler.start();
  return { status: (count) => scheduler.status(count), stop: (graceMs) => scheduler.stop(graceMs) };
}

class Scheduler {
  readonly #clock: ScheduleClock;
  readonly #replica: string;
  readonly #journal: Journal;
  readonly #loaded: LoadedConfig;
  readonly #isAlive: (replica: string) => boolean | Promise<boolean>;
  readonly #emit: (event: ScheduleEvent) => void;
  /** Aborted when stopping: runs in flight are cancelled, and claimed fires not started yet do not start. */
  readonly #cancel = new AbortController();
  readonly #timers = new Map<string, () => void>();
  readonly #inFlight = new Set<Promise<void>>();
  /** The fires this process claimed and has not finished: alive whatever isAlive says of this replica. */
  readonly #mine = new Set<string>();
  #sweeping: Promise<ScheduleFireRecord[]> | undefined;
  #stopped = false;

  constructor(
    private readonly options: ScheduleOptions,
    private readonly schedules: readonly CompiledSchedule[],
    private readonly workflows: ReadonlyMap<string, CompiledWorkflow>,
  ) {
    this.#clock = options.clock ?? systemClock;
    this.#journal = options.journal;
    this.#loaded = options.loaded;
    this.#replica = options.replicaId ?? `${hostname()}:${process.pid}:${Date.now()}`;
    this.#isAlive = options.isAlive ?? (() => false);
    const events = options.events;
    this.#emit = (event) => {
      try {
        events?.(event);
      } catch {
        // A failing sink must not stop the schedules.
      }
    };
    options.signal?.addEventListener("abort", () => void this.stop(0), { once: true });
  }

  async start(): Promise<void> {
    if (this.schedules.length === 0) return;
    const now = this.#clock.now();
    try {
      await this.#sweep();
      const last = new Map((await this.#journal.lastScheduleFires()).map((fire) => [fire.schedule, fire]));
      for (const schedule of this.schedules) {
        const missed = missedTime(schedule, last.get(schedule.name), now);
        if (missed !== undefined) this.#launch(schedule, missed, true);
      }
    } catch (error) {
      this.#emit({ type: "schedule.error", message: `could not read the schedules' fires: ${describeFailure(error)}`, at: this.#clock.now() });
    }
    if (this.options.signal?.aborted) return;
    for (const schedule of this.schedules) this.#arm(schedule, now);
  }

  status(count = 3) {
    return describeSchedules(this.schedules, this.#journal, this.#clock.now(), count);
  }

  async stop(graceMs = 0): Promise<{ finished: number; cancelled: number }> {
    this.#stopped = true;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    const inFlight = [...this.#inFlight];
    const all = Promise.allSettled(inFlight);
    let cancelled = 0;
    let cancelTimer = () => {};
    const grace = new Promise<boolean>((resolve) => (cancelTimer = this.#clock.after(graceMs, () => resolve(true))));
    const timedOut = inFlight.length > 0 && (graceMs <= 0 || (await Promise.race([all.then(() => false), grace])));
    cancelTimer();
    if (timedOut) {
      cancelled = this.#inFlight.size;
      this.#cancel.abort();
      await Promise.allSettled([...this.#inFlight]);
    }
    return { finished: inFlight.length - cancelled, cancelled };
  }

  /** Waits for the schedule's first time after `after`. */
  #arm(schedule: CompiledSchedule, after: number): void {
    const at = schedule.next(after);
    if (at !== undefined) this.#waitFor(schedule, at);
  }

  #waitFor(schedule: CompiledSchedule, at: number): void {
    if (this.#stopped) return;
    const delay = Math.min(Math.max(0, wakeTime(schedule, at) - this.#clock.now()), MAX_WAIT_MS);
    this.#timers.set(schedule.name, this.#clock.after(delay, () => this.#wake(schedule, at)));
  }

  #wake(schedule: CompiledSchedule, at: number): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    // Early (a timer may fire a little before the wall clock gets there, or the wait was cut short): wait again.
    if (now < wakeTime(schedule, at)) return this.#waitFor(schedule, at);
    const due = dueTime(schedule, at, now);
    this.#launch(schedule, due, false);
    this.#arm(schedule, due);
  }

  #launch(schedule: CompiledSchedule, at: number, missed: boolean): void {
    const task: Promise<void> = this.#fire(schedule, at, missed)
      .catch((error) => this.#emit({ type: "schedule.error", schedule: schedule.name, scheduledFor: at, message: describeFailure(error), at: this.#clock.now() }))
      .finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  /** Claims the fire of `at`; when this server wins, records it skipped (forbid) or runs the workflow. */
  async #fire(schedule: CompiledSchedule, at: number, missed: boolean): Promise<void> {
    const running = await this.#sweep();
    const reason = forbiddenBy(schedule, at, running);
    const key = fireKey(schedule.name, at);
    const firedAt = this.#clock.now();
    this.#mine.add(key);
    try {
      const won = await this.#journal.claimScheduleFire({ schedule: schedule.name, at, firedAt, replica: this.#replica, status: reason ? "skipped" : "running", ...(reason ? { detail: reason } : {}) });
      if (!won) return;
      if (reason) {
        this.#emit({ type: "schedule.skipped", schedule: schedule.name, scheduledFor: at, reason, at: firedAt });
        return;
      }
      await this.#run(schedule, at, firedAt, missed);
    } finally {
      this.#mine.delete(key);
    }
  }

  async #run(schedule: CompiledSchedule, at: number, firedAt: number, missed: boolean): Promise<void> {
    const name = schedule.name;
    const signal = this.#cancel.signal;
    let runId: string | undefined;
    let status: ScheduleFireStatus;
    let detail: string;
    try {
      if (signal.aborted) throw new Error("the server stopped before the run started");
      // The scheduled time (not the jittered start) is what the run is for: a report for the hour, a backup named by its time.
      const vars = { schedule: { name, at: new Date(at).toISOString() } };
      const prepared = await prepareWorkflow(this.#loaded, { name, compiled: this.workflows.get(name)!, vars });
      runId = newRunId(new Date(firedAt));
      await this.#journal.updateScheduleFire(name, at, { runId });
      this.#emit({ type: "schedule.started", schedule: name, scheduledFor: at, runId, replica: this.#replica, delayMs: firedAt - at, ...(missed ? { missed: true as const } : {}), at: firedAt });
      const notes: string[] = [];
      const run = await startJournaledRun(prepared, {
        journal: this.#journal,
        runId,
        signal,
        ...(this.options.sinks ? { sinks: this.options.sinks } : {}),
        shadow: applyShadow,
        onNote: (note) => notes.push(`; shadow: ${note.message}`),
      });
      status = fireStatusOf(run.status);
      const { counts } = run;
      detail = `run ${runId} ${run.status}: ok=${counts.ok} changed=${counts.changed} failed=${counts.failed} unreachable=${counts.unreachable}${notes.join("")}`;
    } catch (error) {
      status = signal.aborted ? "interrupted" : "failed";
      detail = describeFailure(error);
    }
    const finishedAt = this.#clock.now();
    await this.#journal.updateScheduleFire(name, at, { status, finishedAt, detail });
    this.#emit({ type: "schedule.finished", schedule: name, scheduledFor: at, ...(runId ? { runId } : {}), status, durationMs: finishedAt - firedAt, detail, at: finishedAt });
  }

  /**
   * Records the running fires of servers that are gone as interrupted, and
   * resolves the others. One sweep at a time: fires due together share it.
   */
  #sweep(): Promise<ScheduleFireRecord[]> {
    this.#sweeping ??= this.#sweepOnce().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<ScheduleFireRecord[]> {
    const alive: ScheduleFireRecord[] = [];
    for (const fire of await this.#journal.runningScheduleFires()) {
      if (await this.#lives(fire)) {
        alive.push(fire);
        continue;
      }
      const now = this.#clock.now();
      const detail = `the server that ran it (${fire.replica}) stopped`;
      await this.#journal.updateScheduleFire(fire.schedule, fire.at, { status: "interrupted", finishedAt: now, detail });
      // Its run too: it was cut off with the server, and nothing else finishes a scheduled run's record.
      if (fire.runId && (await this.#journal.getRun(fire.runId))?.run.status === "running") await this.#journal.finishRun(fire.runId, "interrupted", { interrupted: detail });
      this.#emit({ type: "schedule.interrupted", schedule: fire.schedule, scheduledFor: fire.at, replica: fire.replica, ...(fire.runId ? { runId: fire.runId } : {}), at: now });
    }
    return alive;
  }

  async #lives(fire: ScheduleFireRecord): Promise<boolean> {
    if (fire.replica === this.#replica) return this.#mine.has(fireKey(fire.schedule, fire.at));
    try {
      return await this.#isAlive(fire.replica);
    } catch {
      // Unsure is alive: a fire wrongly interrupted would let a forbidden overlap start.
      return true;
    }
  }
}
