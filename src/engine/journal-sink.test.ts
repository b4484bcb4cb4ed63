import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configError } from "../errors.ts";
import type { RunEventRecords, RunStore } from "../journal/index.ts";
import { openSqliteJournal } from "../journal/sqlite.ts";
import type { RunEvent } from "./events.ts";
import { journalSink } from "./journal-sink.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-journal-sink-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let count = 0;
const freshLocation = () => join(mkdtempSync(join(root, `j${++count}-`)), "journal.db");

const runId = "run-1";
const result = { ok: true, changed: false, exitCode: 0, stdout: "hi\n", stderr: "", durationMs: 3 };
const events: RunEvent[] = [
  { type: "run.started", runId, kind: "workflow", name: "hello", targets: ["web-1"], batches: [["web-1"]], vars: {}, dryRun: false, traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" },
  { type: "target.started", runId, target: "web-1", batch: 1, spanId: "00f067aa0ba902b8", host: "10.0.0.1", labels: { role: "web" } },
  { type: "step.started", runId, target: "web-1", phase: "main", index: 0, name: "greet", action: "exec", description: "echo hi", spanId: "00f067aa0ba902b9" },
  { type: "step.output", runId, target: "web-1", step: "greet", stream: "stdout", text: "hi\n" },
  { type: "step.finished", runId, target: "web-1", phase: "main", index: 0, name: "greet", action: "exec", description: "echo hi", status: "ok", attempts: 1, result, startedAt: "2026-11-25T12:00:00.000Z" },
  { type: "target.finished", runId, target: "web-1", batch: 1, status: "ok", changed: false, durationMs: 5, startedAt: "2026-11-25T12:00:00.000Z" },
  { type: "run.finished", runId, status: "succeeded", counts: { targets: 1, ok: 1, changed: 0, failed: 0, unreachable: 0, skipped: 0, notStarted: 0, rolledBack: 0 }, durationMs: 6 },
];

test("a run's events are written in the order emitted with their records, and drained() waits for the last", async () => {
  const journal = openSqliteJournal(freshLocation());
  try {
    await journal.startRun({ id: runId, kind: "workflow", name: "hello", params: { configFiles: [], cwd: "/", vars: {}, dryRun: false } });
    const sink = journalSink(journal);
    for (const event of events) sink(event);
    await sink.drained();
    const found = (await journal.getRun(runId))!;
    expect(found.run.status).toBe("succeeded");
    expect(found.targets.map((t) => [t.target, t.status, t.batch])).toEqual([["web-1", "ok", 1]]);
    expect(found.steps.map((s) => [s.name, s.status, s.stdout])).toEqual([["greet", "ok", "hi\n"]]);
    // Step output is kept in the step's result, not as events.
    expect((await journal.events(runId)).map((e) => e.type)).toEqual(events.filter((e) => e.type !== "step.output").map((e) => e.type));
  } finally {
    await journal.close();
  }
});

test("with SQLite, a step's start is committed inside the emit, before the engine goes on to run its action", async () => {
  const location = freshLocation();
  const journal = openSqliteJournal(location);
  try {
    await journal.startRun({ id: runId, kind: "workflow", name: "hello", params: { configFiles: [], cwd: "/", vars: {}, dryRun: false } });
    const sink = journalSink(journal);
    sink(events[2]!);
    const reader = new Database(location, { readonly: true, strict: true });
    try {
      expect(reader.query("SELECT target, name, finished_at FROM step_progress").all()).toEqual([{ target: "web-1", name: "greet", finished_at: null }]);
    } finally {
      reader.close();
    }
    await sink.drained();
  } finally {
    await journal.close();
  }
});

test("events emitted together share one commit: a step's start with those before it, the run's end with drained()", async () => {
  const journal = openSqliteJournal(freshLocation());
  try {
    await journal.startRun({ id: runId, kind: "workflow", name: "hello", params: { configFiles: [], cwd: "/", vars: {}, dryRun: false } });
    const commits: string[][] = [];
    const counting = {
      ...journal,
      recordRunEvent(given: RunEventRecords | readonly RunEventRecords[]) {
        commits.push((Array.isArray(given) ? (given as readonly RunEventRecords[]) : [given as RunEventRecords]).map((r) => r.event!.type));
        return journal.recordRunEvent(given);
      },
    } as RunStore;
    const sink = journalSink(counting);
    for (const event of events) sink(event);
    await sink.drained();
    expect(commits).toEqual([
      ["run.started", "target.started", "step.started"],
      ["step.finished", "target.finished", "run.finished"],
    ]);
    expect((await journal.getRun(runId))!.run.status).toBe("succeeded");
  } finally {
    await journal.close();
  }
});

/** A run store whose writes settle when the test says, the latest first, and whose nth write fails. */
function slowStore(failAt?: number): { store: RunStore; written: string[]; settle: () => void } {
  const written: string[] = [];
  const waiting: (() => void)[] = [];
  let calls = 0;
  const store = {
    recordRunEvent(given: RunEventRecords | readonly RunEventRecords[]): Promise<void> {
      const n = ++calls;
      const records = Array.isArray(given) ? (given as readonly RunEventRecords[]) : [given as RunEventRecords];
      return new Promise<void>((resolve, reject) => {
        waiting.push(() => {
          if (n === failAt) reject(configError("E_JOURNAL_FULL", "the disk holding the journal at /j is full", "free space"));
          else {
            for (const r of records) written.push(r.event!.type);
            resolve();
          }
        });
      });
    },
  } as unknown as RunStore;
  return { store, written, settle: () => waiting.splice(0).reverse().forEach((go) => go()) };
}

test("a write waits for the one before it, so a slow journal still records the events in order", async () => {
  const { store, written, settle } = slowStore();
  const sink = journalSink(store);
  for (const event of events) sink(event);
  const drained = sink.drained();
  for (let i = 0; i < 10; i++) {
    settle();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await drained;
  expect(written).toEqual(events.filter((e) => e.type !== "step.output").map((e) => e.type));
});

test("a failed write is no unhandled rejection: the next event throws it into the engine, nothing more is written, drained() rejects with it", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const { store, written, settle } = slowStore(2);
    const sink = journalSink(store);
    sink(events[0]!);
    // A turn of the event loop: run.started is written alone, then the next two share the write that fails.
    await new Promise((resolve) => setImmediate(resolve));
    sink(events[1]!);
    sink(events[2]!);
    for (let i = 0; i < 5; i++) {
      settle();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(written).toEqual(["run.started"]);
    expect(() => sink(events[4]!)).toThrow("the disk holding the journal at /j is full");
    await expect(sink.drained()).rejects.toMatchObject({ code: "E_JOURNAL_FULL" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(unhandled).toEqual([]);
    expect(written).toEqual(["run.started"]);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
