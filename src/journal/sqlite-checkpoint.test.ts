// A server's journal checkpoints on a thread of its own (sqlite-checkpoint.ts):
// committed pages reach the database file while the writer only appends to the
// WAL, and the close ends the thread with the journal.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteJournal } from "./sqlite.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-checkpoint-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const body = JSON.stringify({ alerts: [{ labels: { alertname: "Storm" }, annotations: { summary: "x".repeat(900) } }] });

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(20);
  }
}

test("committed pages reach the database file from the checkpoint thread, and all is there after the close", async () => {
  const location = join(mkdtempSync(join(root, "journal-")), "journal.db");
  const journal = openSqliteJournal(location, { backgroundCheckpoints: true });
  const before = statSync(location).size;
  // About 2 MB: under SQLite's own 1,000-page mark, so only the thread copies it.
  for (let batch = 0; batch < 40; batch++) {
    await journal.acceptNotifications(Array.from({ length: 50 }, (_, i) => ({ source: "alertmanager" as const, receivedAt: batch * 50 + i, body })));
  }
  await until(() => statSync(location).size > before + 1_500_000, "the database file to take the committed pages");
  expect(await journal.countNotifications()).toBe(2000);
  await journal.close();
  await expect(journal.countNotifications()).rejects.toThrow(/closed/);
  const reopened = openSqliteJournal(location);
  expect(await reopened.countNotifications()).toBe(2000);
  await reopened.close();
});

test("without the thread (every command but serve), SQLite's own checkpoint alone copies pages", async () => {
  const location = join(mkdtempSync(join(root, "journal-")), "journal.db");
  const journal = openSqliteJournal(location);
  const before = statSync(location).size;
  for (let batch = 0; batch < 40; batch++) {
    await journal.acceptNotifications(Array.from({ length: 50 }, (_, i) => ({ source: "alertmanager" as const, receivedAt: batch * 50 + i, body })));
  }
  await Bun.sleep(300);
  expect(statSync(location).size).toBe(before);
  await journal.close();
});
