import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { openSqliteJournal } from "./sqlite.ts";
import { useFreshJournal } from "./testing.ts";
import type { Journal, ShadowComparisonRecord } from "./types.ts";

let location: string;
let journal: Journal;
useFreshJournal("opskit-shadow-journal-", (fresh, file) => {
  journal = fresh;
  location = file;
});

const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function comparison(overrides: Partial<ShadowComparisonRecord> = {}): Omit<ShadowComparisonRecord, "id"> {
  return {
    name: "disk-report",
    at: t0,
    source: "cli",
    legacyExit: 0,
    legacyDurationMs: 12,
    candidateExit: 0,
    candidateDurationMs: 30,
    candidateFailed: false,
    equal: true,
    differs: [],
    diff: "",
    ...overrides,
  };
}

describe("shadow store", () => {
  test("records comparisons and reads them back newest first, mismatches alone on request", () => {
    const first = journal.recordShadowComparison(comparison());
    const second = journal.recordShadowComparison(
      comparison({ at: t0 + 1, source: "workflow", runId: "run-1", target: "web-1", equal: false, differs: ["stdout", "exit"], candidateExit: 2, diff: "--- legacy\n+++ candidate", candidateError: "x" }),
    );
    expect(second).toBeGreaterThan(first);
    const all = journal.shadowComparisons("disk-report");
    expect(all.map((c) => c.id)).toEqual([second, first]);
    expect(all[0]).toEqual({ ...comparison(), id: second, at: t0 + 1, source: "workflow", runId: "run-1", target: "web-1", equal: false, differs: ["stdout", "exit"], candidateExit: 2, diff: "--- legacy\n+++ candidate", candidateError: "x" });
    expect(all[1]).toEqual({ ...comparison(), id: first });
    expect(journal.shadowComparisons("disk-report", { mismatchesOnly: true }).map((c) => c.id)).toEqual([second]);
    expect(journal.shadowComparisons("other")).toEqual([]);
  });

  test("stats count agreement, mismatches and failures per name; the legacy's failures count for neither side", () => {
    journal.recordShadowComparison(comparison());
    journal.recordShadowComparison(comparison({ equal: false, differs: ["stdout"] }));
    journal.recordShadowComparison(comparison({ equal: false, candidateFailed: true, candidateExit: null, candidateError: "timed out", source: "workflow" }));
    journal.recordShadowComparison(comparison({ equal: false, candidateFailed: true, legacyExit: null, legacyError: "not found" }));
    journal.recordShadowComparison(comparison({ name: "inventory", at: t0 + 5 }));
    expect(journal.shadowStats()).toEqual([
      { name: "disk-report", comparisons: 4, agreed: 1, mismatched: 2, legacyFailures: 1, candidateFailures: 1, firstAt: t0, lastAt: t0 },
      { name: "inventory", comparisons: 1, agreed: 1, mismatched: 0, legacyFailures: 0, candidateFailures: 0, firstAt: t0 + 5, lastAt: t0 + 5 },
    ]);
    expect(journal.shadowStats({ name: "disk-report", source: "workflow" })).toMatchObject([{ comparisons: 1, candidateFailures: 1 }]);
    expect(journal.shadowStats({ name: "nobody" })).toEqual([]);
  });

  test("the first fallback wins; a reset clears it and starts the window after the latest comparison", () => {
    journal.recordShadowComparison(comparison({ equal: false, differs: ["stdout"] }));
    const last = journal.recordShadowComparison(comparison({ equal: false, differs: ["stdout"] }));
    expect(journal.getShadowState("disk-report")).toBeUndefined();
    expect(journal.fallBackShadow("disk-report", t0 + 10, "mismatch rate 100%")).toBe(true);
    expect(journal.fallBackShadow("disk-report", t0 + 20, "again")).toBe(false);
    expect(journal.getShadowState("disk-report")).toEqual({ name: "disk-report", fallenBackAt: t0 + 10, reason: "mismatch rate 100%", windowStart: 0 });

    const before = journal.resetShadow("disk-report", t0 + 30);
    expect(before?.fallenBackAt).toBe(t0 + 10);
    expect(journal.getShadowState("disk-report")).toEqual({ name: "disk-report", resetAt: t0 + 30, windowStart: last });
    expect(journal.shadowStats({ name: "disk-report", afterId: last })).toEqual([]);
    journal.recordShadowComparison(comparison());
    expect(journal.shadowStats({ name: "disk-report", afterId: last })).toMatchObject([{ comparisons: 1, agreed: 1 }]);
    expect(journal.listShadowStates().map((s) => s.name)).toEqual(["disk-report"]);
    // Resetting a name never seen records a window all the same.
    expect(journal.resetShadow("new", t0)).toBeUndefined();
    expect(journal.getShadowState("new")).toMatchObject({ windowStart: last + 1 });
  });

  test("a journal written before shadow comparisons existed gains the tables when opened", () => {
    journal.close();
    const old = join(dirname(location), "old.db");
    const db = new Database(old, { create: true });
    db.exec("CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, summary TEXT, resumed_from TEXT)");
    db.close();
    journal = openSqliteJournal(old);
    expect(journal.recordShadowComparison(comparison())).toBe(1);
  });
});
