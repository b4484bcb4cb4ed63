// What the SQLite journal does with incidents beyond the contract (contract-incidents.ts):
// the columns reports read, another process on the same file, a file closed and opened again.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { openSqliteJournal } from "./sqlite.ts";
import { incidentSchema } from "./sqlite-incidents.ts";
import { runSchema } from "./sqlite-runs.ts";
import { openSampleIncident, t0 } from "./contract-incidents.ts";
import { useFreshJournal } from "./testing.ts";
import type { AttemptRecord, IncidentRecord, Journal } from "./types.ts";

let location: string;
let journal: Journal;
useFreshJournal("opskit-incidents-", (fresh, file) => {
  journal = fresh;
  location = file;
});

const open = (fingerprint: string, overrides: Parameters<typeof openSampleIncident>[2] = {}) => openSampleIncident(journal, fingerprint, overrides);

/** The columns copied out of the labels for SQL reports, read the way a report would. */
function reportColumns(id: number): Record<string, unknown> | null {
  const db = new Database(location, { readonly: true, strict: true });
  try {
    return db.query("SELECT service, severity, alertname FROM incidents WHERE id = $id").get({ id }) as Record<string, unknown> | null;
  } finally {
    db.close();
  }
}

function attempt(incidentId: number, n: number, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  return { incidentId, attempt: n, rule: "restart-checkout", fingerprint: "fp-1", status: "queued", createdAt: t0 + n, ...overrides };
}

describe("SQLite incidents", () => {
  test("a second open incident for a fingerprint is refused by the unique index", async () => {
    await open("fp-1");
    const error = (await open("fp-1").catch((e: unknown) => e)) as { code?: string; cause?: { code?: string } };
    expect(error.code).toBe("E_INCIDENT_OPEN");
    // The index, not a check in code, refused it.
    expect(error.cause?.code).toBe("SQLITE_CONSTRAINT_UNIQUE");
  });

  test("an update refreshes the columns copied from labels, which reports group by", async () => {
    const { id } = await open("fp-1");
    await journal.updateIncident(id, { attempts: 2 });
    expect(reportColumns(id)).toEqual({ service: "checkout", severity: "critical", alertname: "HighErrorRate" });
    await journal.updateIncident(id, { labels: { alertname: "Latency", service: "payments" } });
    expect(reportColumns(id)).toEqual({ service: "payments", severity: null, alertname: "Latency" });
  });

  test("a line another process appends to the same timeline is neither overwritten nor folded into", async () => {
    const { id } = await open("fp-1");
    const other = openSqliteJournal(location);
    try {
      await journal.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing" });
      await other.addIncidentEvent(id, { at: t0 + 1, kind: "note", message: "looking" });
      await journal.addIncidentEvent(id, { at: t0 + 2, kind: "alert", message: "firing" });
      await other.addIncidentEvent(id, { at: t0 + 3, kind: "note", message: "restarted by hand" });
      await journal.addIncidentEvent(id, { at: t0 + 4, kind: "gate", message: "cooldown" });
    } finally {
      await other.close();
    }
    expect((await journal.incidentEvents(id)).map((e) => [e.seq, e.message, e.count])).toEqual([
      [1, "firing", 1],
      [2, "looking", 1],
      [3, "firing", 1],
      [4, "restarted by hand", 1],
      [5, "cooldown", 1],
    ]);
  });
});

test("everything survives closing and reopening the journal file", async () => {
  const { id } = await open("fp-1");
  await journal.setMilestone(id, "resolved", t0 + 1234);
  await journal.updateIncident(id, { status: "resolved", automated: true, resolution: "verified by probe" });
  await journal.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing" });
  await journal.addIncidentEvent(id, { at: t0 + 1, kind: "alert", message: "firing" });
  await journal.createAttempt(attempt(id, 1, { status: "succeeded", startedAt: t0 + 10 }));
  const [notification] = await journal.acceptNotifications([{ source: "alertmanager", receivedAt: t0, body: "{}" }]);
  await journal.putAlertState({ fingerprint: "fp-1", status: "resolved", startsAt: t0, updatedAt: t0 + 2, incidentId: id });
  await journal.putRuleState({ rule: "restart-checkout", consecutiveFailures: 1 });
  await journal.putSetting("schema", "1");
  const before = await journal.getIncident(id);
  await journal.close();

  journal = openSqliteJournal(location);
  expect(await journal.getIncident(id)).toEqual(before!);
  expect(before).toMatchObject({ status: "resolved", automated: true, resolution: "verified by probe", milestones: { started: t0, detected: t0 + 50, resolved: t0 + 1234 } });
  expect((await journal.incidentEvents(id)).map((e) => e.count)).toEqual([2]);
  expect(await journal.attempts(id)).toHaveLength(1);
  expect(await journal.lastAttemptStart("fp-1")).toBe(t0 + 10);
  expect((await journal.pendingNotifications(10)).map((n) => n.id)).toEqual([notification!]);
  expect((await journal.getAlertState("fp-1"))?.incidentId).toBe(id);
  expect((await journal.getRuleState("restart-checkout"))?.consecutiveFailures).toBe(1);
  expect(await journal.getSetting("schema")).toBe("1");
  await journal.addIncidentEvent(id, { at: t0 + 2, kind: "note", message: "closed by hand" });
  expect((await journal.incidentEvents(id)).map((e) => e.seq)).toEqual([1, 2]);
  await journal.close();
});

test("a journal written before attempts had an owner gains the column in place and keeps its attempts", async () => {
  await journal.close();
  const old = `${location}.old`;
  const db = new Database(old, { create: true, strict: true });
  try {
    db.exec(runSchema);
    db.exec(incidentSchema);
    expect(db.query<{ name: string }, []>("PRAGMA table_info(remediation_attempts)").all().some((c) => c.name === "owner")).toBe(false);
    db.exec(`INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, last_notified_at) VALUES ('fp-1', 'open', 'Down', 'generic', '{}', '{}', ${t0})`);
    db.exec(`INSERT INTO remediation_attempts (incident_id, attempt, rule, fingerprint, status, created_at) VALUES (1, 1, 'restart-checkout', 'fp-1', 'queued', ${t0 + 1})`);
  } finally {
    db.close();
  }
  journal = openSqliteJournal(old);
  expect(await journal.attempts(1)).toEqual([attempt(1, 1)]);
  expect(await journal.claimAttempt(1, 1, "queued", { status: "running", owner: "replica-a" })).toBe(true);
  await journal.close();
  // Opening it again finds the column there and adds nothing.
  journal = openSqliteJournal(old);
  expect(await journal.attempts(1)).toEqual([attempt(1, 1, { status: "running", owner: "replica-a" })]);
  await journal.close();
});
