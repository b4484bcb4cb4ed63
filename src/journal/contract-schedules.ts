import { describe, expect, test } from "bun:test";
import type { CurrentJournal } from "./contract.ts";
import type { ScheduleFireRecord } from "./types.ts";

/** A scheduled time (epoch ms) and the schedule's period in the samples. */
const t0 = 1764072000000;
const minute = 60_000;

function fire(schedule: string, at: number, overrides: Partial<Omit<ScheduleFireRecord, "finishedAt">> = {}): Omit<ScheduleFireRecord, "finishedAt"> {
  return { schedule, at, firedAt: at + 250, replica: "replica-a", status: "running", ...overrides };
}

/** Scheduled runbooks: each scheduled time fires once, whoever races for it. */
export function describeScheduleContract(journal: CurrentJournal): void {
  describe("schedule fires", () => {
    test("a claimed fire reads back as given, optional fields omitted; the same time cannot be claimed again", async () => {
      const j = journal();
      expect(await j.claimScheduleFire(fire("backup", t0))).toBe(true);
      expect(await j.claimScheduleFire(fire("backup", t0, { replica: "replica-b", firedAt: t0 + 900 }))).toBe(false);
      expect(await j.scheduleFires("backup")).toEqual([{ schedule: "backup", at: t0, firedAt: t0 + 250, replica: "replica-a", status: "running" }]);
      // Another time of the schedule, and the same time of another schedule, are fires of their own.
      expect(await j.claimScheduleFire(fire("backup", t0 + minute))).toBe(true);
      expect(await j.claimScheduleFire(fire("rotate-logs", t0, { status: "skipped", detail: "concurrency: forbid" }))).toBe(true);
      expect(await j.scheduleFires("rotate-logs")).toEqual([{ schedule: "rotate-logs", at: t0, firedAt: t0 + 250, replica: "replica-a", status: "skipped", detail: "concurrency: forbid" }]);
      expect(await j.scheduleFires("nothing")).toEqual([]);
    });

    test("of many callers racing to claim one scheduled time, exactly one wins", async () => {
      const j = journal();
      const replicas = Array.from({ length: 24 }, (_, i) => `replica-${i}`);
      const claims = await Promise.all(replicas.map((replica) => j.claimScheduleFire(fire("backup", t0, { replica }))));
      expect(claims.filter(Boolean)).toHaveLength(1);
      const winner = replicas[claims.indexOf(true)]!;
      expect((await j.scheduleFires("backup")).map((f) => f.replica)).toEqual([winner]);
    });

    test("an update changes only the fields it names", async () => {
      const j = journal();
      await j.claimScheduleFire(fire("backup", t0));
      await j.updateScheduleFire("backup", t0, { runId: "20261125T120000-3fa9c2d1" });
      await j.updateScheduleFire("backup", t0, { status: "failed", finishedAt: t0 + 5000, detail: "exit 3 on db-1" });
      await j.updateScheduleFire("backup", t0, {});
      await j.updateScheduleFire("backup", t0 + minute, { status: "succeeded" });
      expect(await j.scheduleFires("backup")).toEqual([
        { schedule: "backup", at: t0, firedAt: t0 + 250, replica: "replica-a", status: "failed", runId: "20261125T120000-3fa9c2d1", finishedAt: t0 + 5000, detail: "exit 3 on db-1" },
      ]);
    });

    test("a schedule's fires come back newest first, 100 unless a limit is given", async () => {
      const j = journal();
      // Claimed out of order: the order read back is by scheduled time, not by insertion.
      for (const i of [3, 0, 4, 1, 2]) await j.claimScheduleFire(fire("backup", t0 + i * minute));
      expect((await j.scheduleFires("backup")).map((f) => f.at)).toEqual([4, 3, 2, 1, 0].map((i) => t0 + i * minute));
      expect((await j.scheduleFires("backup", { limit: 2 })).map((f) => f.at)).toEqual([t0 + 4 * minute, t0 + 3 * minute]);
      for (let i = 5; i < 105; i++) await j.claimScheduleFire(fire("backup", t0 + i * minute));
      const fires = await j.scheduleFires("backup");
      expect(fires).toHaveLength(100);
      expect(fires[0]!.at).toBe(t0 + 104 * minute);
    });

    test("the last fire of each schedule, by schedule name", async () => {
      const j = journal();
      expect(await j.lastScheduleFires()).toEqual([]);
      await j.claimScheduleFire(fire("rotate-logs", t0 + 2 * minute, { status: "succeeded" }));
      await j.claimScheduleFire(fire("backup", t0 + 5 * minute));
      await j.claimScheduleFire(fire("backup", t0, { status: "failed" }));
      await j.claimScheduleFire(fire("rotate-logs", t0 + 3 * minute, { replica: "replica-b" }));
      await j.claimScheduleFire(fire("rotate-logs", t0 + minute, { status: "failed" }));
      await j.updateScheduleFire("rotate-logs", t0 + 3 * minute, { status: "succeeded", runId: "run-9", finishedAt: t0 + 3 * minute + 900 });
      expect(await j.lastScheduleFires()).toEqual([
        { schedule: "backup", at: t0 + 5 * minute, firedAt: t0 + 5 * minute + 250, replica: "replica-a", status: "running" },
        { schedule: "rotate-logs", at: t0 + 3 * minute, firedAt: t0 + 3 * minute + 250, replica: "replica-b", status: "succeeded", runId: "run-9", finishedAt: t0 + 3 * minute + 900 },
      ]);
    });

    test("fires still running are listed across schedules, oldest scheduled time first, and leave the list when they finish", async () => {
      const j = journal();
      await j.claimScheduleFire(fire("rotate-logs", t0 + minute));
      await j.claimScheduleFire(fire("backup", t0 + 2 * minute));
      await j.claimScheduleFire(fire("backup", t0));
      await j.claimScheduleFire(fire("cleanup", t0, { status: "skipped" }));
      expect((await j.runningScheduleFires()).map((f) => [f.schedule, f.at])).toEqual([["backup", t0], ["rotate-logs", t0 + minute], ["backup", t0 + 2 * minute]]);
      await j.updateScheduleFire("backup", t0, { status: "interrupted", finishedAt: t0 + 3 * minute, detail: "its server stopped" });
      expect((await j.runningScheduleFires()).map((f) => [f.schedule, f.at])).toEqual([["rotate-logs", t0 + minute], ["backup", t0 + 2 * minute]]);
      expect((await j.runningScheduleFires())[0]).toEqual({ schedule: "rotate-logs", at: t0 + minute, firedAt: t0 + minute + 250, replica: "replica-a", status: "running" });
    });

    test("a fire claimed in a rolled-back transaction can be claimed again", async () => {
      const j = journal();
      await expect(
        j.transaction(async (tx) => {
          expect(await tx.claimScheduleFire(fire("backup", t0))).toBe(true);
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await j.scheduleFires("backup")).toEqual([]);
      expect(await j.claimScheduleFire(fire("backup", t0, { replica: "replica-b" }))).toBe(true);
    });
  });
}
