import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";

// A journal that cannot be used is the operator's to fix: the CLI and the
// server say which file, what is wrong and what to do, exit 65, no stack.

const root = mkdtempSync(join(tmpdir(), "opskit-journal-faults-"));
const immutable: string[] = [];
afterAll(() => {
  for (const file of immutable) Bun.spawnSync(["chattr", "-i", file]);
  rmSync(root, { recursive: true, force: true });
});

let count = 0;
/** A project with a one-step workflow and a journal that already holds a few runs. */
async function project(): Promise<{ dir: string; journal: string }> {
  const dir = join(root, `p${++count}`);
  Bun.spawnSync(["mkdir", "-p", dir]);
  writeFileSync(join(dir, "opskit.yaml"), ["workflows:", "  hello:", "    targets: local", '    steps: [ { exec: "echo hi" } ]', ""].join("\n"));
  const journal = join(dir, "journal.db");
  for (let i = 0; i < 20; i++) expect((await runOpskit(["run", "hello", "--journal", journal], { cwd: dir })).code).toBe(0);
  const db = new Database(journal);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return { dir, journal };
}

/** Overwrites the root page of every table and index with garbage: the header and the schema still read, the data does not. */
function damage(journal: string): void {
  const db = new Database(journal, { readonly: true });
  const pageSize = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
  const roots = (db.query("SELECT rootpage FROM sqlite_master WHERE rootpage > 1").all() as { rootpage: number }[]).map((r) => r.rootpage);
  db.close();
  const fd = openSync(journal, "r+");
  const garbage = Buffer.alloc(pageSize, 0x55);
  for (const page of roots) writeSync(fd, garbage, 0, pageSize, (page - 1) * pageSize);
  closeSync(fd);
}

/** Read-only even for root: the immutable attribute where we run as root, the mode bits otherwise. */
function makeReadOnly(journal: string): void {
  if (process.getuid?.() === 0) {
    const chattr = Bun.spawnSync(["chattr", "+i", journal]);
    if (!chattr.success) throw new Error(`chattr +i ${journal} failed: ${chattr.stderr.toString()}`);
    immutable.push(journal);
  } else {
    chmodSync(journal, 0o444);
  }
}

const serve = (dir: string, journal: string) => runOpskit(["serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", journal], { cwd: dir, timeoutMs: 20_000 });

describe("a journal that cannot be used", () => {
  test("a damaged journal: serve (PRAGMA quick_check at start), run and runs name it and say how to recover, exit 65, no stack", async () => {
    const { dir, journal } = await project();
    damage(journal);
    const server = await serve(dir, journal);
    expect(server.code).toBe(65);
    expect(server.stderr).toContain(`the journal at ${journal} is damaged`);
    expect(server.stderr).toContain("PRAGMA quick_check");
    expect(server.stderr).toContain(`hint: move it aside (mv ${journal} ${journal}.damaged)`);
    for (const args of [["runs"], ["run", "hello"]]) {
      const run = await runOpskit([...args, "--journal", journal], { cwd: dir });
      expect(run.code).toBe(65);
      expect(run.stderr).toContain(`the journal at ${journal} is damaged`);
      expect(run.stderr).not.toContain("    at ");
    }
    expect(server.stderr).not.toContain("    at ");
  }, 60_000);

  test("a file that is not a database is refused the same way", async () => {
    const { dir } = await project();
    const journal = join(dir, "not-a-journal.db");
    writeFileSync(journal, "this is a text file, not SQLite\n".repeat(200));
    for (const run of [await serve(dir, journal), await runOpskit(["runs", "--journal", journal], { cwd: dir })]) {
      expect(run.code).toBe(65);
      expect(run.stderr).toContain(`the journal at ${journal} is damaged or not an opskit journal (file is not a database)`);
      expect(run.stderr).not.toContain("    at ");
    }
  }, 60_000);

  test("a read-only journal: serve refuses at start and run before anything runs, exit 65, no stack", async () => {
    const { dir, journal } = await project();
    makeReadOnly(journal);
    const server = await serve(dir, journal);
    const run = await runOpskit(["run", "hello", "--journal", journal], { cwd: dir });
    for (const result of [server, run]) {
      expect(result.code).toBe(65);
      expect(result.stderr).toContain(`the journal at ${journal} is read-only`);
      expect(result.stderr).toContain("or pass --journal (or set OPSKIT_JOURNAL to) a writable path");
      expect(result.stderr).not.toContain("    at ");
    }
    expect(run.stdout).not.toContain("hi");
  }, 60_000);
});
