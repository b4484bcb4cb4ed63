// For the journal's own tests: a fresh SQLite journal for every test, in a
// temporary directory removed when the file's tests are done.
import { afterAll, afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteJournal } from "./sqlite.ts";
import type { Journal } from "./types.ts";

/** Registers the hooks; `use` receives each test's journal and its file. */
export function useFreshJournal(prefix: string, use: (journal: Journal, location: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let current: Journal | undefined;
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    const location = join(mkdtempSync(join(root, "journal-")), "journal.db");
    current = openSqliteJournal(location);
    use(current, location);
  });
  afterEach(async () => {
    await current?.close();
  });
}
