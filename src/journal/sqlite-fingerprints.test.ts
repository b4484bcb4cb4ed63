// The incident store remembers each fingerprint's alert state and open
// incident (sqlite-fingerprints.ts); a read must still answer what a SELECT
// would, whoever wrote last.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { openSampleIncident, t0 } from "./contract-incidents.ts";
import { useFreshJournal } from "./testing.ts";
import type { Journal } from "./types.ts";

let journal: Journal;
let location: string;
useFreshJournal("opskit-journal-fingerprints-", (fresh, file) => {
  journal = fresh;
  location = file;
});

/** Another connection to the same file, as another opskit process or the sqlite3 shell would write. */
function elsewhere(sql: string): void {
  const db = new Database(location, { strict: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000;");
    db.exec(sql);
  } finally {
    db.close();
  }
}

test("what another connection commits is read, not what was remembered", async () => {
  const incident = await openSampleIncident(journal, "fp-1");
  await journal.putAlertState({ fingerprint: "fp-1", status: "firing", startsAt: t0, incidentId: incident.id, updatedAt: t0 });
  expect((await journal.findOpenIncident("fp-1"))?.id).toBe(incident.id);
  expect((await journal.getAlertState("fp-1"))?.status).toBe("firing");
  expect(await journal.findOpenIncident("fp-2")).toBeUndefined();
  elsewhere(`UPDATE incidents SET status = 'resolved' WHERE id = ${incident.id}; UPDATE alert_states SET status = 'resolved' WHERE fingerprint = 'fp-1';`);
  expect(await journal.findOpenIncident("fp-1")).toBeUndefined();
  expect((await journal.getIncident(incident.id))?.status).toBe("resolved");
  expect((await journal.getAlertState("fp-1"))?.status).toBe("resolved");
  elsewhere(`UPDATE incidents SET fingerprint = 'fp-2', status = 'open' WHERE id = ${incident.id};`);
  expect((await journal.findOpenIncident("fp-2"))?.id).toBe(incident.id);
});

test("what a rolled-back transaction wrote is forgotten with it", async () => {
  const incident = await openSampleIncident(journal, "fp-1");
  await journal.putAlertState({ fingerprint: "fp-1", status: "firing", startsAt: t0, incidentId: incident.id, updatedAt: t0 });
  const before = { incident: await journal.findOpenIncident("fp-1"), state: await journal.getAlertState("fp-1") };
  await expect(
    journal.transaction(async (tx) => {
      await tx.updateIncident(incident.id, { notifications: 9, lastNotifiedAt: t0 + 9 });
      await tx.setMilestone(incident.id, "acknowledged", t0 + 9);
      await tx.putAlertState({ fingerprint: "fp-1", status: "resolved", startsAt: t0, endsAt: t0 + 9, updatedAt: t0 + 9 });
      await tx.openIncident({ ...before.incident!, fingerprint: "fp-3" });
      expect((await tx.findOpenIncident("fp-1"))?.notifications).toBe(9);
      throw new Error("rolled back");
    }),
  ).rejects.toThrow("rolled back");
  expect({ incident: await journal.findOpenIncident("fp-1"), state: await journal.getAlertState("fp-1") }).toEqual(before);
  expect(await journal.findOpenIncident("fp-3")).toBeUndefined();
});

test("every change made through the store is read back as written; callers' edits to what they got are theirs", async () => {
  const incident = await openSampleIncident(journal, "fp-1");
  const read = async () => ({ open: await journal.findOpenIncident("fp-1"), byId: await journal.getIncident(incident.id), state: await journal.getAlertState("fp-1") });
  const fromDisk = () => {
    const db = new Database(location, { readonly: true, strict: true });
    try {
      return db.query<{ notifications: number; last_notified_at: number; acknowledged_at: number | null; status: string }, []>("SELECT notifications, last_notified_at, acknowledged_at, status FROM incidents").get();
    } finally {
      db.close();
    }
  };
  (await journal.findOpenIncident("fp-1"))!.milestones.resolved = 1;
  await journal.updateIncident(incident.id, { notifications: 5, lastNotifiedAt: t0 + 5 });
  await journal.setMilestone(incident.id, "acknowledged", t0 + 6);
  await journal.setMilestone(incident.id, "acknowledged", t0 + 7);
  await journal.putAlertState({ fingerprint: "fp-1", status: "firing", startsAt: t0, updatedAt: t0 + 5 });
  let now = await read();
  expect(now.open).toEqual(now.byId);
  expect(now.open).toMatchObject({ notifications: 5, lastNotifiedAt: t0 + 5, milestones: { started: t0, detected: t0 + 50, acknowledged: t0 + 6 } });
  expect(now.open!.milestones.resolved).toBeUndefined();
  expect(fromDisk()).toEqual({ notifications: 5, last_notified_at: t0 + 5, acknowledged_at: t0 + 6, status: "open" });
  expect(now.state).toEqual({ fingerprint: "fp-1", status: "firing", startsAt: t0, updatedAt: t0 + 5 });
  await journal.updateIncident(incident.id, { status: "resolved", resolution: "by hand" });
  now = await read();
  expect(now.open).toBeUndefined();
  expect(now.byId).toMatchObject({ status: "resolved", resolution: "by hand", notifications: 5 });
  await expect(openSampleIncident(journal, "fp-1")).resolves.toMatchObject({ status: "open" });
  await expect(openSampleIncident(journal, "fp-1")).rejects.toThrow();
  expect((await journal.findOpenIncident("fp-1"))?.id).not.toBe(incident.id);
});

test("an import that opens an incident is read at once", async () => {
  const fingerprint = "import:pagerduty:P1";
  expect(await journal.findOpenIncident(fingerprint)).toBeUndefined();
  await journal.importIncidents([{ origin: "pagerduty", externalId: "P1", title: "Down", labels: {}, started: t0 }]);
  expect((await journal.findOpenIncident(fingerprint))?.title).toBe("Down");
});
