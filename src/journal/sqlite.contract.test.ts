// The journal contract (contract.ts) against the embedded SQLite journal: a fresh file for every test.
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeJournalContract } from "./contract.ts";
import { openSqliteJournal } from "./sqlite.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-journal-contract-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeJournalContract("SQLite", async () => openSqliteJournal(join(mkdtempSync(join(root, "journal-")), "journal.db")));
