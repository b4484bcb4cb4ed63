// What the SQLite journal does with shadow comparisons beyond the contract (contract-records.ts).
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

describe("SQLite shadow store", () => {
  test("a journal written before shadow comparisons existed gains the tables when opened", async () => {
    await journal.close();
    const old = join(dirname(location), "old.db");
    const db = new Database(old, { create: true });
    db.exec("CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, summary TEXT, resumed_from TEXT)");
    db.close();
    journal = openSqliteJournal(old);
    expect(await journal.recordShadowComparison(comparison())).toBe(1);
    await journal.close();
  });
});
