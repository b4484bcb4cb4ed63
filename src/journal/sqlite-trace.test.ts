import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteJournal } from "./sqlite.ts";
import { incidentSchema } from "./sqlite-incidents.ts";
import { runSchema } from "./sqlite-runs.ts";

test("a journal written before runs and incidents had trace ids gains the columns in place and keeps its rows", async () => {
  const dir = mkdtempSync(join(tmpdir(), "opskit-trace-"));
  try {
    const location = join(dir, "old.db");
    const db = new Database(location, { create: true, strict: true });
    db.exec(runSchema);
    db.exec(incidentSchema);
    db.exec(`INSERT INTO runs (id, kind, name, status, params, started_at) VALUES ('run-old', 'workflow', 'deploy', 'succeeded', '{"configFiles":[],"cwd":"/","vars":{},"dryRun":false}', '2026-01-01T00:00:00.000Z')`);
    db.exec(`INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, last_notified_at) VALUES ('fp-1', 'open', 'Down', 'generic', '{}', '{}', 1)`);
    db.close();

    let journal = openSqliteJournal(location);
    expect((await journal.getRun("run-old"))?.run).toMatchObject({ id: "run-old", status: "succeeded" });
    expect("traceId" in (await journal.getRun("run-old"))!.run).toBe(false);
    expect("traceId" in (await journal.getIncident(1))!).toBe(false);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await journal.startRun({ id: "run-new", kind: "exec", name: "uptime", params: { configFiles: [], cwd: "/", vars: {}, dryRun: false }, traceId });
    await journal.close();

    // Opened again: the columns are there, nothing is added twice.
    journal = openSqliteJournal(location);
    expect((await journal.getRun("run-new"))?.run.traceId).toBe(traceId);
    await journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
