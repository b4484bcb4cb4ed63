import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import type { CurrentJournal } from "./contract.ts";
import type { JournalTx, RunParams, StepRecord } from "./types.ts";

const params: RunParams = { configFiles: ["/srv/opskit.yaml"], cwd: "/srv", vars: { version: "1.2.3" }, dryRun: false };

function step(runId: string, index: number, overrides: Partial<StepRecord> = {}): StepRecord {
  return {
    runId, target: "web-1", phase: "main", index, name: `step-${index}`, action: "exec", status: "ok", exitCode: 0,
    stdout: "done\n", stderr: "", durationMs: 12, attempts: 1, startedAt: "2026-11-25T12:00:00.000Z", ...overrides,
  };
}

/** A promise and the functions that settle it: holds a transaction open while a test looks on. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Runs, targets, steps, progress and events; transactions; health and close. */
export function describeRunContract(journal: CurrentJournal): void {
  describe("runs", () => {
    test("a started run reads back running with its start and owner, and finishes with its status and summary", async () => {
      const j = journal();
      const run = await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      expect(run).toEqual({ id: "run-1", kind: "workflow", name: "deploy", params, status: "running", startedAt: run.startedAt, owner: { pid: process.pid, host: hostname() } });
      expect(Date.parse(run.startedAt)).toBeGreaterThan(0);
      expect(await j.getRun("run-1")).toEqual({ run, targets: [], steps: [] });

      await j.finishRun("run-1", "failed", { counts: { ok: 1, failed: 1 } });
      const finished = (await j.getRun("run-1"))!.run;
      expect(finished).toMatchObject({ status: "failed", summary: { counts: { ok: 1, failed: 1 } } });
      expect(Date.parse(finished.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
    });

    test("a given start time and the run resumed are kept; an unknown run is undefined and has nothing recorded", async () => {
      const j = journal();
      const run = await j.startRun({ id: "run-2", kind: "exec", name: "uptime", params: { ...params, command: "uptime" }, startedAt: "2026-11-25T12:00:00.000Z", resumedFrom: "run-1" });
      expect(run).toMatchObject({ startedAt: "2026-11-25T12:00:00.000Z", resumedFrom: "run-1", kind: "exec" });
      expect((await j.getRun("run-2"))!.run).toEqual(run);
      expect(await j.getRun("nothing")).toBeUndefined();
      expect(await j.stepProgress("nothing")).toEqual([]);
      expect(await j.events("nothing")).toEqual([]);
    });

    test("a run's trace id is kept and read back by id and in the list; a run started without one has none", async () => {
      const j = journal();
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const run = await j.startRun({ id: "run-t", kind: "workflow", name: "deploy", params, traceId, startedAt: "2026-11-25T12:00:01.000Z" });
      expect(run.traceId).toBe(traceId);
      expect((await j.getRun("run-t"))!.run).toEqual(run);
      await j.startRun({ id: "run-u", kind: "workflow", name: "deploy", params, startedAt: "2026-11-25T12:00:00.000Z" });
      const listed = await j.listRuns();
      expect(listed.map((r) => [r.id, r.traceId])).toEqual([["run-t", traceId], ["run-u", undefined]]);
      expect("traceId" in listed[1]!).toBe(false);
    });

    test("runs are listed newest first, 20 unless a limit is given", async () => {
      const j = journal();
      for (let i = 0; i < 25; i++) await j.startRun({ id: `run-${String(i).padStart(2, "0")}`, kind: "workflow", name: "deploy", params, startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() });
      const listed = await j.listRuns();
      expect(listed).toHaveLength(20);
      expect(listed[0]!.id).toBe("run-24");
      expect((await j.listRuns({ limit: 3 })).map((r) => r.id)).toEqual(["run-24", "run-23", "run-22"]);
    });

    test("a target's record is replaced by its next state; targets come back by batch, then name", async () => {
      const j = journal();
      await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      await j.putTarget({ runId: "run-1", target: "b", batch: 2, status: "pending", changed: false, rollbackOwed: false });
      await j.putTarget({ runId: "run-1", target: "z", batch: 1, status: "pending", changed: false, rollbackOwed: false });
      await j.putTarget({ runId: "run-1", target: "a", batch: 1, status: "running", changed: false, rollbackOwed: false, startedAt: "2026-11-25T12:00:00.000Z" });
      await j.putTarget({ runId: "run-1", target: "a", batch: 1, status: "failed", changed: true, rollbackOwed: true, startedAt: "2026-11-25T12:00:00.000Z", finishedAt: "2026-11-25T12:00:01.000Z", durationMs: 1000.5, error: "exit 3" });
      const { targets } = (await j.getRun("run-1"))!;
      expect(targets.map((t) => t.target)).toEqual(["a", "z", "b"]);
      expect(targets[0]).toEqual({ runId: "run-1", target: "a", batch: 1, status: "failed", changed: true, rollbackOwed: true, startedAt: "2026-11-25T12:00:00.000Z", finishedAt: "2026-11-25T12:00:01.000Z", durationMs: 1000.5, error: "exit 3" });
      expect(targets[1]).toEqual({ runId: "run-1", target: "z", batch: 1, status: "pending", changed: false, rollbackOwed: false });
    });

    test("a started step is unfinished until its result is recorded; the result and what the action returned come back", async () => {
      const j = journal();
      await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      const at = "2026-11-25T12:00:00.000Z";
      await j.startStep({ runId: "run-1", target: "web-1", phase: "main", index: 0, name: "step-0", startedAt: at });
      await j.startStep({ runId: "run-1", target: "web-1", phase: "main", index: 1, name: "step-1", startedAt: at });
      await j.putStep(step("run-1", 0, { data: { status: 200 }, stderr: "warning\n" }));
      const progress = await j.stepProgress("run-1");
      expect(progress).toEqual([
        { runId: "run-1", target: "web-1", phase: "main", index: 0, name: "step-0", startedAt: at, finishedAt: expect.any(String), result: step("run-1", 0, { data: { status: 200 }, stderr: "warning\n" }) },
        { runId: "run-1", target: "web-1", phase: "main", index: 1, name: "step-1", startedAt: at },
      ]);
      expect((await j.getRun("run-1"))!.steps).toEqual([expect.objectContaining({ ...step("run-1", 0, { stderr: "warning\n" }) })]);

      // Started again (a retry of the run): unfinished until its new result.
      await j.startStep({ runId: "run-1", target: "web-1", phase: "main", index: 0, name: "step-0", startedAt: at });
      expect((await j.stepProgress("run-1")).map((p) => [p.index, p.result?.status ?? "unfinished"])).toEqual([[0, "unfinished"], [1, "unfinished"]]);
    });

    test("a step finished in an earlier run is recorded with the run it came from, failures with their error", async () => {
      const j = journal();
      await j.startRun({ id: "run-2", kind: "workflow", name: "deploy", params, resumedFrom: "run-1" });
      await j.putStep(step("run-2", 0, { resumedFrom: "run-1", attempts: 0 }));
      await j.putStep(step("run-2", 1, { status: "failed", exitCode: 3, error: "exit 3", target: "web-2", phase: "post" }));
      const progress = await j.stepProgress("run-2");
      expect(progress.map((p) => [p.target, p.phase, p.index, p.resumedFrom, p.result?.status, p.result?.error])).toEqual([
        ["web-1", "main", 0, "run-1", "ok", undefined],
        ["web-2", "post", 1, undefined, "failed", "exit 3"],
      ]);
      expect((await j.getRun("run-2"))!.steps.map((s) => [s.index, s.status, s.exitCode])).toEqual([[0, "ok", 0], [1, "failed", 3]]);
    });

    test("events come back in the order appended, numbered from 1 in each run, with their payload", async () => {
      const j = journal();
      await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      await j.startRun({ id: "run-2", kind: "workflow", name: "deploy", params });
      await j.appendEvent("run-1", "run.started", { type: "run.started", targets: ["web-1"] });
      await j.appendEvent("run-2", "run.started", { type: "run.started", targets: [] });
      await j.appendEvent("run-1", "step.finished", { type: "step.finished", status: "ok", nested: { exitCode: 0 } });
      await j.appendEvent("run-1", "run.finished", { type: "run.finished", status: "succeeded" });
      const events = await j.events("run-1");
      expect(events.map((e) => [e.seq, e.type])).toEqual([[1, "run.started"], [2, "step.finished"], [3, "run.finished"]]);
      expect(events[1]!.payload).toEqual({ type: "step.finished", status: "ok", nested: { exitCode: 0 } });
      expect(Date.parse(events[0]!.at)).toBeGreaterThan(0);
      expect((await j.events("run-2")).map((e) => e.seq)).toEqual([1]);
    });
  });

  describe("run events with their records", () => {
    test("an event and the records it changes commit together", async () => {
      const j = journal();
      await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      const at = "2026-11-25T12:00:00.000Z";
      await j.recordRunEvent({ event: { runId: "run-1", type: "run.started", payload: { type: "run.started" } }, targets: [{ runId: "run-1", target: "web-1", batch: 1, status: "pending", changed: false, rollbackOwed: false }] });
      await j.recordRunEvent({ event: { runId: "run-1", type: "step.started", payload: { type: "step.started" } }, stepStarted: { runId: "run-1", target: "web-1", phase: "main", index: 0, name: "step-0", startedAt: at } });
      await j.recordRunEvent({ event: { runId: "run-1", type: "step.finished", payload: { type: "step.finished" } }, step: step("run-1", 0) });
      await j.recordRunEvent({ event: { runId: "run-1", type: "run.finished", payload: { type: "run.finished" } }, finished: { runId: "run-1", status: "succeeded", summary: { counts: { ok: 1 } } } });
      const found = (await j.getRun("run-1"))!;
      expect(found.run).toMatchObject({ status: "succeeded", summary: { counts: { ok: 1 } } });
      expect(found.targets.map((t) => [t.target, t.status])).toEqual([["web-1", "pending"]]);
      expect(found.steps).toHaveLength(1);
      expect((await j.stepProgress("run-1"))[0]!.result?.status).toBe("ok");
      expect((await j.events("run-1")).map((e) => [e.seq, e.type])).toEqual([[1, "run.started"], [2, "step.started"], [3, "step.finished"], [4, "run.finished"]]);
    });

    test("an event whose records cannot all be written leaves none of them, its line in the stream included", async () => {
      const j = journal();
      await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      const broken = { ...step("run-1", 0), stdout: null } as unknown as StepRecord;
      await expect(
        j.recordRunEvent({ event: { runId: "run-1", type: "step.finished", payload: {} }, targets: [{ runId: "run-1", target: "web-1", batch: 1, status: "ok", changed: false, rollbackOwed: false }], step: broken }),
      ).rejects.toThrow();
      const found = (await j.getRun("run-1"))!;
      expect([found.targets, found.steps, await j.events("run-1"), await j.stepProgress("run-1")]).toEqual([[], [], [], []]);
    });

    test("a list of events commits in order, all or none", async () => {
      const j = journal();
      await j.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
      const target = { runId: "run-1", target: "web-1", batch: 1, status: "pending" as const, changed: false, rollbackOwed: false };
      const started = { event: { runId: "run-1", type: "run.started", payload: {} }, targets: [target] };
      const broken = { event: { runId: "run-1", type: "step.finished", payload: {} }, step: { ...step("run-1", 0), stdout: null } as unknown as StepRecord };
      await expect(j.recordRunEvent([started, broken])).rejects.toThrow();
      expect([(await j.getRun("run-1"))!.targets, await j.events("run-1")]).toEqual([[], []]);
      await j.recordRunEvent([started, { event: { runId: "run-1", type: "step.finished", payload: {} }, step: step("run-1", 0) }]);
      // In order; a failed write ends its run's writes (the journal sink), so its numbers are not reused.
      const events = await j.events("run-1");
      expect(events.map((e) => e.type)).toEqual(["run.started", "step.finished"]);
      expect(events[0]!.seq).toBeLessThan(events[1]!.seq);
      expect((await j.getRun("run-1"))!.steps).toHaveLength(1);
    });
  });

  describe("transactions", () => {
    test("a transaction commits together, rolls back together, returns its value, and nests as a savepoint", async () => {
      const j = journal();
      const value = await j.transaction(async (tx) => {
        await tx.putSetting("a", "1");
        await expect(
          tx.transaction(async (inner) => {
            await inner.putSetting("b", "2");
            throw new Error("inner");
          }),
        ).rejects.toThrow("inner");
        await tx.transaction(async (inner) => inner.putSetting("c", "3"));
        return 42;
      });
      expect(value).toBe(42);
      expect([await j.getSetting("a"), await j.getSetting("b"), await j.getSetting("c")]).toEqual(["1", undefined, "3"]);
      await expect(
        j.transaction(async (tx) => {
          await tx.startRun({ id: "run-1", kind: "workflow", name: "deploy", params });
          await tx.openIncident({ fingerprint: "fp-1", title: "Down", source: "generic", labels: {}, annotations: {}, milestones: { started: 1 }, lastNotifiedAt: 1 });
          await tx.putSetting("d", "4");
          throw new Error("outer");
        }),
      ).rejects.toThrow("outer");
      expect(await j.countIncidents()).toBe(0);
      expect(await j.getRun("run-1")).toBeUndefined();
      expect(await j.getSetting("d")).toBeUndefined();
    });

    test("work asked of the journal during a transaction neither sees its writes before the commit nor is undone by its rollback", async () => {
      const j = journal();
      const hold = deferred();
      const entered = deferred();
      const aborted = j.transaction(async (tx) => {
        await tx.putSetting("inside", "1");
        entered.resolve();
        await hold.promise;
        throw new Error("abort");
      });
      await entered.promise;
      const read = j.getSetting("inside");
      const write = j.putSetting("outside", "2");
      hold.resolve();
      await expect(aborted).rejects.toThrow("abort");
      expect(await read).toBeUndefined();
      await write;
      expect(await j.getSetting("outside")).toBe("2");
      expect(await j.getSetting("inside")).toBeUndefined();
    });

    test("transactions that read and then write do not interleave: concurrent increments lose none", async () => {
      const j = journal();
      await j.putSetting("n", "0");
      const increment = () =>
        j.transaction(async (tx) => {
          const n = Number(await tx.getSetting("n"));
          await new Promise((resolve) => setTimeout(resolve, 5));
          await tx.putSetting("n", String(n + 1));
        });
      await Promise.all([increment(), increment(), increment(), increment()]);
      expect(await j.getSetting("n")).toBe("4");
    });

    test("a transaction's stores are refused once it has ended", async () => {
      const j = journal();
      let kept: JournalTx | undefined;
      await j.transaction(async (tx) => {
        kept = tx;
      });
      await expect(kept!.putSetting("late", "1")).rejects.toThrow();
      expect(await j.getSetting("late")).toBeUndefined();
    });
  });

  describe("health and close", () => {
    test("an open journal is healthy and says where it is", async () => {
      const j = journal();
      expect(await j.health()).toBeUndefined();
      expect(typeof j.location).toBe("string");
    });

    test("close waits for a transaction under way; afterwards work is refused, and closing again is harmless", async () => {
      const j = journal();
      const hold = deferred();
      const entered = deferred();
      const running = j.transaction(async (tx) => {
        entered.resolve();
        await hold.promise;
        await tx.putSetting("k", "v");
        return "committed";
      });
      await entered.promise;
      const closing = j.close();
      hold.resolve();
      expect(await running).toBe("committed");
      await closing;
      await expect(j.getSetting("k")).rejects.toThrow();
      await expect(j.putSetting("k", "w")).rejects.toThrow();
      await expect(j.transaction(async () => 1)).rejects.toThrow();
      await j.close();
    });
  });
}
