import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTestConfig } from "../../test/harness/config.ts";
import type { LoadedConfig } from "../config/index.ts";
import { openJournal, type Journal } from "../journal/index.ts";
import { jitterDelay } from "./decide.ts";
import { startSchedules } from "./scheduler.ts";
import type { ScheduleClock, ScheduleEvent, ScheduleHandle, ScheduleOptions } from "./types.ts";

/** A wall clock the test moves; timers wake when it passes their time. */
class FakeClock implements ScheduleClock {
  #timers = new Set<{ due: number; wake: () => void }>();
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  after(ms: number, wake: () => void): () => void {
    const timer = { due: this.current + ms, wake };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }
  /** Moves to `to`, waking each timer at its own time, in time order. */
  async advanceTo(to: number): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      const next = [...this.#timers].filter((t) => t.due <= to).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.#timers.delete(next);
      this.current = Math.max(this.current, next.due);
      next.wake();
      await Bun.sleep(0);
    }
    this.current = to;
  }
  /** Jumps to `to` before any timer wakes: a process that stalled. */
  async jumpTo(to: number): Promise<void> {
    this.current = to;
    await this.advanceTo(to);
  }
  get pending(): number {
    return this.#timers.size;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const T0 = Date.parse("2026-01-01T00:00:05Z");
const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => Date.parse("2026-01-01T00:00:00Z") + s * 1000;

interface Setup {
  dir: string;
  loaded: LoadedConfig;
  journal: Journal;
  clock: FakeClock;
  events: ScheduleEvent[];
  start(extra?: Partial<ScheduleOptions>): Promise<ScheduleHandle>;
  lines(): string[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(schedule: string, command = "echo {{ vars.schedule.at }} >> out.txt", now = T0): Promise<Setup> {
  const made = await loadTestConfig(`workflows:\n  tick:\n    schedule: ${schedule}\n    steps:\n      - exec: "${command}"\n        timeout: 20s\n`);
  const journal = await openJournal(join(made.dir, "journal.db"));
  const clock = new FakeClock(now);
  const events: ScheduleEvent[] = [];
  const handles: ScheduleHandle[] = [];
  cleanups.push(made.remove, () => journal.close(), async () => {
    for (const handle of handles) await handle.stop(0);
  });
  return {
    dir: made.dir,
    loaded: made.loaded,
    journal,
    clock,
    events,
    async start(extra = {}) {
      const handle = await startSchedules({ loaded: made.loaded, journal, clock, replicaId: "r1", events: (e) => events.push(e), ...extra });
      handles.push(handle);
      return handle;
    },
    lines: () => (existsSync(join(made.dir, "out.txt")) ? readFileSync(join(made.dir, "out.txt"), "utf8").trim().split("\n") : []),
  };
}

const finished = (journal: Journal, count: number) => async () => (await journal.scheduleFires("tick")).filter((f) => f.status !== "running").length >= count;

describe("startSchedules", () => {
  test("each scheduled time runs the workflow once, as a journaled run with the scheduled time in vars.schedule.at", async () => {
    const s = await setup(`"*/10 * * * * *"`);
    await s.start();
    expect(s.clock.pending).toBe(1);
    // One time after the other: a time whose run still runs would be skipped (concurrency: forbid).
    for (const [i, t] of [10, 20, 30].entries()) {
      await s.clock.advanceTo(sec(t));
      await until(`fire ${i + 1}`, finished(s.journal, i + 1));
    }
    await s.clock.advanceTo(sec(35));
    const fires = (await s.journal.scheduleFires("tick")).reverse();
    expect(fires.map((f) => [iso(f.at), f.status, f.replica])).toEqual([10, 20, 30].map((t) => [iso(sec(t)), "succeeded", "r1"]));
    expect(s.lines()).toEqual([10, 20, 30].map((t) => iso(sec(t))));
    for (const fire of fires) {
      const run = await s.journal.getRun(fire.runId!);
      expect({ name: run?.run.name, status: run?.run.status, vars: run?.run.params.vars }).toEqual({ name: "tick", status: "succeeded", vars: { schedule: { name: "tick", at: iso(fire.at) } } });
      expect(fire.detail).toContain(`run ${fire.runId} succeeded`);
    }
    expect(s.events.filter((e) => e.type === "schedule.started").map((e) => e.type === "schedule.started" && [iso(e.scheduledFor), e.delayMs])).toEqual([10, 20, 30].map((t) => [iso(sec(t)), 0]));
    // One timer, for the next time.
    expect(s.clock.pending).toBe(1);
  });

  test("two schedulers on one journal: each time is claimed by one of them and runs once", async () => {
    const s = await setup(`"*/10 * * * * *"`);
    await s.start({ replicaId: "a", isAlive: () => true });
    await s.start({ replicaId: "b", isAlive: () => true });
    for (const [i, t] of [10, 20, 30, 40].entries()) {
      await s.clock.advanceTo(sec(t));
      await until(`fire ${i + 1}`, finished(s.journal, i + 1));
    }
    await s.clock.advanceTo(sec(45));
    await Bun.sleep(50);
    const fires = (await s.journal.scheduleFires("tick")).reverse();
    expect(fires.map((f) => iso(f.at))).toEqual([10, 20, 30, 40].map((t) => iso(sec(t))));
    expect(fires.every((f) => f.status === "succeeded" && (f.replica === "a" || f.replica === "b"))).toBe(true);
    expect(s.lines().sort()).toEqual([10, 20, 30, 40].map((t) => iso(sec(t))));
    expect(s.events.filter((e) => e.type === "schedule.started")).toHaveLength(4);
  });

  test("jitter delays the start by the same amount on every server, and the fire keeps the scheduled time", async () => {
    const s = await setup(`{ cron: "*/10 * * * * *", jitter: 8s }`);
    await s.start();
    const delay = jitterDelay({ name: "tick", jitterMs: 8000 }, sec(10));
    expect(delay).toBeGreaterThan(0);
    await s.clock.advanceTo(sec(10) + delay - 1);
    await Bun.sleep(50);
    expect(await s.journal.scheduleFires("tick")).toEqual([]);
    await s.clock.advanceTo(sec(10) + delay);
    await until("the fire", finished(s.journal, 1));
    const [fire] = await s.journal.scheduleFires("tick");
    expect({ at: iso(fire!.at), firedAt: fire!.firedAt }).toEqual({ at: iso(sec(10)), firedAt: sec(10) + delay });
    expect(s.lines()).toEqual([iso(sec(10))]);
  });

  test("concurrency: forbid records a time whose previous run still runs as skipped; the next free time runs", async () => {
    const s = await setup(`"*/10 * * * * *"`, "while [ ! -e release ]; do sleep 0.02; done; echo {{ vars.schedule.at }} >> out.txt");
    await s.start();
    await s.clock.advanceTo(sec(10));
    await until("the first run", async () => s.events.some((e) => e.type === "schedule.started"));
    await s.clock.advanceTo(sec(20));
    await until("the skip", async () => (await s.journal.scheduleFires("tick")).length === 2);
    const skipped = (await s.journal.scheduleFires("tick"))[0]!;
    expect({ at: iso(skipped.at), status: skipped.status }).toEqual({ at: iso(sec(20)), status: "skipped" });
    expect(skipped.detail).toContain(`the run for ${iso(sec(10))} is still running`);
    writeFileSync(join(s.dir, "release"), "");
    await until("the first run's end", async () => (await s.journal.scheduleFires("tick")).find((f) => f.at === sec(10))?.status === "succeeded");
    await s.clock.advanceTo(sec(30));
    await until("the third fire", finished(s.journal, 3));
    expect((await s.journal.scheduleFires("tick")).map((f) => [iso(f.at), f.status])).toEqual([
      [iso(sec(30)), "succeeded"],
      [iso(sec(20)), "skipped"],
      [iso(sec(10)), "succeeded"],
    ]);
    expect(s.lines()).toEqual([iso(sec(10)), iso(sec(30))]);
  });

  test("concurrency: allow lets runs overlap", async () => {
    const s = await setup(`{ cron: "*/10 * * * * *", concurrency: allow }`, "while [ ! -e release ]; do sleep 0.02; done; echo {{ vars.schedule.at }} >> out.txt");
    await s.start();
    await s.clock.advanceTo(sec(20));
    await until("two runs under way", async () => s.events.filter((e) => e.type === "schedule.started").length === 2);
    expect((await s.journal.runningScheduleFires()).map((f) => iso(f.at))).toEqual([iso(sec(10)), iso(sec(20))]);
    writeFileSync(join(s.dir, "release"), "");
    await until("both ends", finished(s.journal, 2));
    expect(s.lines().sort()).toEqual([iso(sec(10)), iso(sec(20))]);
  });

  test("missed: once runs the latest time missed since the last fire, once across two servers starting together", async () => {
    const s = await setup(`{ cron: "*/10 * * * * *", missed: once }`, undefined, sec(75));
    await s.journal.claimScheduleFire({ schedule: "tick", at: sec(20), firedAt: sec(20), replica: "old", status: "succeeded" });
    await Promise.all([s.start({ replicaId: "a", isAlive: () => true }), s.start({ replicaId: "b", isAlive: () => true })]);
    await until("the missed fire", finished(s.journal, 2));
    await Bun.sleep(50);
    const fires = await s.journal.scheduleFires("tick");
    expect(fires.map((f) => [iso(f.at), f.status])).toEqual([
      [iso(sec(70)), "succeeded"],
      [iso(sec(20)), "succeeded"],
    ]);
    expect(fires[0]!.firedAt).toBe(sec(75));
    expect(s.lines()).toEqual([iso(sec(70))]);
    expect(s.events.filter((e) => e.type === "schedule.started").map((e) => e.type === "schedule.started" && e.missed)).toEqual([true]);
    // Then on with the schedule.
    await s.clock.advanceTo(sec(80));
    await until("the next fire", finished(s.journal, 3));
    expect(s.lines()).toEqual([iso(sec(70)), iso(sec(80))]);
  });

  test("missed: skip runs nothing for the times no server was up; the next time runs", async () => {
    const s = await setup(`"*/10 * * * * *"`, undefined, sec(75));
    await s.journal.claimScheduleFire({ schedule: "tick", at: sec(20), firedAt: sec(20), replica: "old", status: "succeeded" });
    await s.start();
    await s.clock.advanceTo(sec(79));
    await Bun.sleep(100);
    expect((await s.journal.scheduleFires("tick")).map((f) => iso(f.at))).toEqual([iso(sec(20))]);
    await s.clock.advanceTo(sec(80));
    await until("the next fire", finished(s.journal, 2));
    expect(s.lines()).toEqual([iso(sec(80))]);
  });

  test("a process that stalls past several times fires the latest of them when it wakes", async () => {
    const s = await setup(`"*/10 * * * * *"`);
    await s.start();
    await s.clock.jumpTo(sec(47));
    await until("the fire", finished(s.journal, 1));
    await Bun.sleep(50);
    expect((await s.journal.scheduleFires("tick")).map((f) => iso(f.at))).toEqual([iso(sec(40))]);
    await s.clock.advanceTo(sec(50));
    await until("the next fire", finished(s.journal, 2));
  });

  test("fires left running by a server that is gone become interrupted at start; a live server's stay running", async () => {
    const s = await setup(`"*/10 * * * * *"`);
    await s.journal.claimScheduleFire({ schedule: "tick", at: sec(0) - 20_000, firedAt: sec(0) - 20_000, replica: "live", status: "running", runId: "R-live" });
    await s.journal.claimScheduleFire({ schedule: "tick", at: sec(0) - 10_000, firedAt: sec(0) - 10_000, replica: "dead", status: "running", runId: "R-dead" });
    await s.journal.startRun({ id: "R-dead", kind: "workflow", name: "tick", params: { configFiles: [], cwd: s.dir, vars: {}, dryRun: false } });
    await s.start({ isAlive: (replica) => replica === "live" });
    const fires = await s.journal.scheduleFires("tick");
    expect(fires.map((f) => [f.replica, f.status])).toEqual([
      ["dead", "interrupted"],
      ["live", "running"],
    ]);
    expect(fires[0]!.detail).toContain("dead");
    // The dead server's run record ends interrupted with its fire.
    expect((await s.journal.getRun("R-dead"))?.run.status).toBe("interrupted");
    expect(s.events).toEqual([{ type: "schedule.interrupted", schedule: "tick", scheduledFor: sec(0) - 10_000, replica: "dead", runId: "R-dead", at: T0 }]);
  });

  test("by default only this process counts as alive: one server's earlier fires left running become interrupted", async () => {
    const s = await setup(`"*/10 * * * * *"`);
    await s.journal.claimScheduleFire({ schedule: "tick", at: sec(0), firedAt: sec(0), replica: "previous-process", status: "running" });
    await s.start();
    expect((await s.journal.scheduleFires("tick")).map((f) => f.status)).toEqual(["interrupted"]);
    await s.clock.advanceTo(sec(10));
    await until("the next fire", finished(s.journal, 2));
    expect(s.lines()).toEqual([iso(sec(10))]);
  });

  test("stop cancels a run in flight and its fire ends interrupted; no timer is left", async () => {
    const s = await setup(`"*/10 * * * * *"`, "while [ ! -e release ]; do sleep 0.02; done");
    const handle = await s.start();
    await s.clock.advanceTo(sec(10));
    await until("the run", async () => s.events.some((e) => e.type === "schedule.started"));
    expect(await handle.stop(0)).toEqual({ finished: 0, cancelled: 1 });
    const [fire] = await s.journal.scheduleFires("tick");
    expect(fire!.status).toBe("interrupted");
    expect((await s.journal.getRun(fire!.runId!))?.run.status).toBe("interrupted");
    expect(s.clock.pending).toBe(0);
  });

  test("stop waits for a run that ends within the grace", async () => {
    const s = await setup(`"*/10 * * * * *"`, "while [ ! -e release ]; do sleep 0.02; done");
    const handle = await s.start();
    await s.clock.advanceTo(sec(10));
    await until("the run", async () => s.events.some((e) => e.type === "schedule.started"));
    const stopped = handle.stop(60_000);
    writeFileSync(join(s.dir, "release"), "");
    expect(await stopped).toEqual({ finished: 1, cancelled: 0 });
    expect((await s.journal.scheduleFires("tick"))[0]!.status).toBe("succeeded");
  });

  test("a run that cannot start is a failed fire with the reason, and the schedule goes on", async () => {
    const made = await loadTestConfig(`workflows:\n  tick:\n    schedule: "*/10 * * * * *"\n    targets: role=nothing-matches\n    steps: [{ exec: "true" }]\n`);
    const journal = await openJournal(join(made.dir, "journal.db"));
    cleanups.push(made.remove, () => journal.close());
    const clock = new FakeClock(T0);
    const handle = await startSchedules({ loaded: made.loaded, journal, clock });
    cleanups.push(async () => void (await handle.stop(0)));
    await clock.advanceTo(sec(20));
    await until("two failed fires", async () => (await journal.scheduleFires("tick")).filter((f) => f.status === "failed").length === 2);
    expect((await journal.scheduleFires("tick"))[0]!.detail).toBeTruthy();
  });

  test("status lists each schedule with its next times and its last fire", async () => {
    const s = await setup(`{ cron: "*/10 * * * * *", timezone: Europe/Paris, jitter: 2s }`);
    const handle = await s.start();
    await s.clock.advanceTo(sec(15));
    await until("the fire", finished(s.journal, 1));
    const [status] = await handle.status(3);
    expect({ ...status, last: { at: status!.last?.at, status: status!.last?.status } }).toEqual({
      name: "tick",
      cron: "*/10 * * * * *",
      timezone: "Europe/Paris",
      jitter: "2s",
      concurrency: "forbid",
      missed: "skip",
      next: [sec(20), sec(30), sec(40)],
      last: { at: sec(10), status: "succeeded" },
    });
  });

  test("a config without schedules starts nothing", async () => {
    const made = await loadTestConfig(`workflows:\n  plain:\n    steps: [{ exec: "true" }]\n`);
    cleanups.push(made.remove);
    const clock = new FakeClock(T0);
    const handle = await startSchedules({ loaded: made.loaded, journal: undefined as unknown as Journal, clock });
    expect(clock.pending).toBe(0);
    expect(await handle.status()).toEqual([]);
    expect(await handle.stop()).toEqual({ finished: 0, cancelled: 0 });
  });
});
