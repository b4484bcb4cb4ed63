import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { migrateHistory } from "./sqlite-history.ts";
import { incidentSchema } from "./sqlite-incidents.ts";
import { openSqliteJournal } from "./sqlite.ts";
import { useFreshJournal } from "./testing.ts";
import type { ImportedIncident, Journal } from "./types.ts";

let location: string;
let journal: Journal;
useFreshJournal("opskit-history-", (fresh, file) => {
  journal = fresh;
  location = file;
});

const t0 = Date.UTC(2025, 10, 3, 9, 0, 0);
const minute = 60_000;

function imported(externalId: string, overrides: Partial<ImportedIncident> = {}): ImportedIncident {
  return {
    origin: "pagerduty",
    externalId,
    title: "Checkout latency",
    labels: { service: "checkout", severity: "critical", team: "payments" },
    started: t0,
    acknowledged: t0 + 3 * minute,
    resolved: t0 + 40 * minute,
    ...overrides,
  };
}

/** The journal's rows as a report reads them, straight from the file. */
function rows(where = "1 = 1"): Record<string, unknown>[] {
  const db = new Database(location, { readonly: true, strict: true });
  try {
    return db.query(`SELECT * FROM incidents WHERE ${where} ORDER BY id`).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

describe("migrateHistory", async () => {
  test("a journal created before imports existed gains origin and external_id in place, and keeps its incidents", async () => {
    await journal.close();
    const old = join(dirname(location), "old.db");
    const db = new Database(old, { create: true, strict: true });
    db.exec(incidentSchema);
    db.run(`INSERT INTO incidents (fingerprint, status, title, source, labels, annotations, started_at, last_notified_at)
      VALUES ('fp-1', 'open', 'DiskFull', 'alertmanager', '{"alertname":"DiskFull"}', '{}', ${t0}, ${t0})`);
    expect(db.query("PRAGMA table_info(incidents)").all().map((c: any) => c.name)).not.toContain("origin");
    db.close();

    location = old;
    journal = openSqliteJournal(old);
    const upgraded = new Database(old, { readonly: true, strict: true });
    const columns = upgraded.query("PRAGMA table_info(incidents)").all().map((c: any) => c.name);
    const indexes = upgraded.query("PRAGMA index_list(incidents)").all() as { name: string; unique: number; partial: number }[];
    upgraded.close();
    expect(columns).toEqual(expect.arrayContaining(["origin", "external_id"]));
    expect(indexes.find((i) => i.name === "incidents_origin_external")).toMatchObject({ unique: 1, partial: 1 });

    const existing = (await journal.findOpenIncident("fp-1"))!;
    expect(existing.title).toBe("DiskFull");
    expect(existing).not.toHaveProperty("origin");
    expect(existing).not.toHaveProperty("externalId");
    expect(await journal.importIncidents([imported("P1")])).toEqual({ inserted: 1, updated: 0 });
    await journal.close();
  });

  test("running it again on an upgraded journal changes nothing", async () => {
    const db = new Database(location, { strict: true });
    try {
      const before = db.query("SELECT sql FROM sqlite_master ORDER BY name").all();
      migrateHistory(db);
      migrateHistory(db);
      expect(db.query("SELECT sql FROM sqlite_master ORDER BY name").all()).toEqual(before);
    } finally {
      db.close();
    }
  });
});

describe("importIncidents", async () => {
  test("writes every milestone, the label columns and the import's identity", async () => {
    const result = await journal.importIncidents([imported("P1", { detected: t0 + minute, remediationStarted: t0 + 10 * minute, escalated: true })]);
    expect(result).toEqual({ inserted: 1, updated: 0 });
    const [row] = rows();
    expect(row).toMatchObject({
      fingerprint: "import:pagerduty:P1", status: "resolved", title: "Checkout latency", source: "import", annotations: "{}",
      service: "checkout", severity: "critical", alertname: "Checkout latency",
      started_at: t0, detected_at: t0 + minute, acknowledged_at: t0 + 3 * minute, remediation_started_at: t0 + 10 * minute, resolved_at: t0 + 40 * minute,
      remediated_at: null, verified_at: null, escalated: 1, escalated_at: null, automated: 0, attempts: 0, notifications: 0,
      last_notified_at: t0 + 40 * minute, resolution: "imported", origin: "pagerduty", external_id: "P1",
    });
    expect(JSON.parse(row!.labels as string)).toEqual({ service: "checkout", severity: "critical", team: "payments" });

    const incident = (await journal.getIncident(row!.id as number))!;
    expect(incident).toMatchObject({ source: "import", status: "resolved", origin: "pagerduty", externalId: "P1", escalated: true, automated: false });
    expect(incident.milestones).toEqual({ started: t0, detected: t0 + minute, remediation_started: t0 + 10 * minute, resolved: t0 + 40 * minute, acknowledged: t0 + 3 * minute });
  });

  test("an unresolved row is open, an unknown detected stays empty, alertname comes from the labels when given", async () => {
    await journal.importIncidents([imported("P2", { resolved: undefined, acknowledged: undefined, labels: { alertname: "LatencyHigh" } })]);
    expect(rows()[0]).toMatchObject({
      status: "open", detected_at: null, acknowledged_at: null, resolved_at: null, resolution: null, last_notified_at: t0,
      alertname: "LatencyHigh", service: null, severity: null, escalated: 0,
    });
  });

  test("importing the same rows again inserts nothing and updates each row once", async () => {
    const batch = Array.from({ length: 50 }, (_, i) => imported(`P${i}`, { started: t0 + i * minute, resolved: i % 5 === 0 ? undefined : t0 + (i + 30) * minute }));
    expect(await journal.importIncidents(batch)).toEqual({ inserted: 50, updated: 0 });
    const first = rows();
    expect(await journal.importIncidents(batch)).toEqual({ inserted: 0, updated: 50 });
    expect(rows()).toEqual(first);
  });

  test("a changed row updates its milestones, labels and title in place", async () => {
    await journal.importIncidents([imported("P7", { resolved: undefined, title: "Checkout slow" })]);
    const [before] = rows();
    expect(before).toMatchObject({ status: "open", resolution: null });

    const result = await journal.importIncidents([
      imported("P7", { title: "Checkout latency above SLO", labels: { service: "checkout", severity: "warning", team: "web" }, resolved: t0 + 90 * minute }),
      imported("P8"),
    ]);
    expect(result).toEqual({ inserted: 1, updated: 1 });
    const after = rows("external_id = 'P7'");
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({
      id: before!.id, status: "resolved", title: "Checkout latency above SLO", alertname: "Checkout latency above SLO", severity: "warning",
      resolved_at: t0 + 90 * minute, last_notified_at: t0 + 90 * minute, resolution: "imported",
    });
    expect(JSON.parse(after[0]!.labels as string)).toEqual({ service: "checkout", severity: "warning", team: "web" });
  });

  test("one failing row imports nothing, the rows before it included", async () => {
    await journal.importIncidents([imported("P1")]);
    const broken = { ...imported("P3"), title: null } as unknown as ImportedIncident;
    await expect(journal.importIncidents([imported("P1", { title: "renamed" }), imported("P2"), broken, imported("P4")])).rejects.toThrow(/NOT NULL/);
    expect(rows().map((r) => [r.external_id, r.title])).toEqual([["P1", "Checkout latency"]]);
    // The journal is still usable after the rollback.
    expect(await journal.importIncidents([imported("P2")])).toEqual({ inserted: 1, updated: 0 });
  });

  test("an empty import writes nothing", async () => {
    expect(await journal.importIncidents([])).toEqual({ inserted: 0, updated: 0 });
    expect(rows()).toEqual([]);
  });

  /** Every index of incidents with its definition and its root page: a re-created index has a new root page. */
  function indexes(): { name: string; sql: string; rootpage: number }[] {
    const db = new Database(location, { readonly: true, strict: true });
    try {
      return db.query("SELECT name, sql, rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'incidents' ORDER BY name").all() as { name: string; sql: string; rootpage: number }[];
    } finally {
      db.close();
    }
  }
  const definitions = (list: { name: string; sql: string }[]) => list.map(({ name, sql }) => ({ name, sql }));
  function integrity(): string {
    const db = new Database(location, { readonly: true, strict: true });
    try {
      return (db.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    } finally {
      db.close();
    }
  }
  const many = (count: number, prefix = "B", open = 7) =>
    Array.from({ length: count }, (_, i) => imported(`${prefix}${i}`, { started: t0 + i * minute, resolved: i % open === 0 ? undefined : t0 + (i + 30) * minute }));

  test("a bulk load into a fresh journal re-creates every other index as it was, and a re-import of the same rows updates them all", async () => {
    const before = indexes();
    const batch = many(50_000);
    // Lazily, as the CSV importer hands them over.
    expect(await journal.importIncidents(batch.values())).toEqual({ inserted: 50_000, updated: 0 });
    const after = indexes();
    expect(definitions(after)).toEqual(definitions(before));
    // The upsert's key stays; the others were dropped and built again.
    for (const index of after) {
      const old = before.find((b) => b.name === index.name)!;
      if (index.name === "incidents_origin_external") expect(index.rootpage).toBe(old.rootpage);
      else expect(index.rootpage).not.toBe(old.rootpage);
    }
    expect(integrity()).toBe("ok");
    const first = rows();
    expect(first).toHaveLength(50_000);
    expect(first[7]).toMatchObject({ external_id: "B7", status: "open", started_at: t0 + 7 * minute, resolved_at: null, fingerprint: "import:pagerduty:B7" });
    expect(await journal.countIncidents({ status: "open" })).toBe(Math.ceil(50_000 / 7));
    expect(await journal.findOpenIncident("import:pagerduty:B49994")).toMatchObject({ externalId: "B49994" });

    expect(await journal.importIncidents(batch.values())).toEqual({ inserted: 0, updated: 50_000 });
    expect(rows()).toEqual(first);
    expect(integrity()).toBe("ok");
  });

  test("an import into a journal that already holds more incidents keeps its indexes and adds to them", async () => {
    await journal.openIncident({ fingerprint: "fp-live", title: "Disk full", source: "alertmanager", labels: {}, annotations: {}, milestones: { started: t0 }, lastNotifiedAt: t0 });
    expect(await journal.importIncidents(many(30_000, "A"))).toEqual({ inserted: 30_000, updated: 0 });
    const before = indexes();
    // 25,000 rows: fewer than the 30,001 already there, so no bulk load.
    const batch = [...many(24_990, "C"), ...many(10, "A")];
    expect(await journal.importIncidents(batch)).toEqual({ inserted: 24_990, updated: 10 });
    expect(indexes()).toEqual(before);
    expect(integrity()).toBe("ok");
    expect(await journal.countIncidents()).toBe(54_991);
    expect(await journal.findOpenIncident("fp-live")).toMatchObject({ title: "Disk full" });
  });

  test("a bulk load into a journal with incidents keeps them, open ones included, behind the re-created indexes", async () => {
    await journal.openIncident({ fingerprint: "fp-live", title: "Disk full", source: "alertmanager", labels: {}, annotations: {}, milestones: { started: t0 }, lastNotifiedAt: t0 });
    await journal.importIncidents(many(100, "A"));
    expect(await journal.importIncidents(many(40_000, "B"))).toEqual({ inserted: 40_000, updated: 0 });
    expect(integrity()).toBe("ok");
    expect(await journal.countIncidents()).toBe(40_101);
    expect(await journal.findOpenIncident("fp-live")).toMatchObject({ title: "Disk full" });
    expect(await journal.findOpenIncident("import:pagerduty:A7")).toMatchObject({ externalId: "A7" });
  });

  test("a failure late in a bulk load, from the rows or from SQLite, leaves the journal as it was, indexes included", async () => {
    await journal.importIncidents(many(100, "A"));
    const before = indexes();
    const first = rows();
    function* failingLate(): Generator<ImportedIncident> {
      yield* many(45_000, "B");
      throw new Error("row 45,001 is bad");
    }
    await expect(journal.importIncidents(failingLate())).rejects.toThrow("row 45,001 is bad");
    const broken = { ...imported("B44999"), title: null } as unknown as ImportedIncident;
    await expect(journal.importIncidents([...many(44_999, "B"), broken])).rejects.toThrow(/NOT NULL/);
    expect(indexes()).toEqual(before);
    expect(rows()).toEqual(first);
    expect(integrity()).toBe("ok");
    expect(await journal.importIncidents(many(3, "B"))).toEqual({ inserted: 3, updated: 0 });
  });

  test("an import written by its own thread fails all or nothing too: a bad row late, or SQLite refusing one", async () => {
    await journal.importIncidents(many(100, "A"));
    const before = indexes();
    const first = rows();
    function* failingLate(): Generator<ImportedIncident> {
      yield* many(130_000, "B");
      throw new Error("row 130,001 is bad");
    }
    await expect(journal.importIncidents(failingLate())).rejects.toThrow("row 130,001 is bad");
    const broken = { ...imported("B119999"), title: null } as unknown as ImportedIncident;
    const refused = await journal.importIncidents([...many(119_999, "B"), broken]).then(() => undefined, (error: unknown) => error);
    expect(refused).toMatchObject({ code: "SQLITE_CONSTRAINT_NOTNULL", message: expect.stringContaining("NOT NULL") });
    expect(indexes()).toEqual(before);
    expect(rows()).toEqual(first);
    expect(integrity()).toBe("ok");
    // The thread's writes are seen by this connection, and a re-import of the same rows updates them.
    const batch = many(120_000, "B");
    expect(await journal.importIncidents(batch.values())).toEqual({ inserted: 120_000, updated: 0 });
    expect(await journal.countIncidents()).toBe(120_100);
    expect(await journal.findOpenIncident("import:pagerduty:B119994")).toMatchObject({ externalId: "B119994" });
    expect(await journal.importIncidents(batch.values())).toEqual({ inserted: 0, updated: 120_000 });
    expect(definitions(indexes())).toEqual(definitions(before));
    expect(integrity()).toBe("ok");
  });

  test("an import inside a transaction of the journal is written by its connection, not a thread", async () => {
    const result = await journal.transaction((tx) => tx.importIncidents(many(100_500, "T")));
    expect(result).toEqual({ inserted: 100_500, updated: 0 });
    expect(await journal.countIncidents()).toBe(100_500);
  });

  test("100,000 rows import in one transaction in a few seconds, and again as updates", async () => {
    const batch = Array.from({ length: 100_000 }, (_, i) => imported(`P${i}`, { started: t0 + i * minute, resolved: i % 10 === 0 ? undefined : t0 + (i + 30) * minute }));
    let started = performance.now();
    expect(await journal.importIncidents(batch)).toEqual({ inserted: 100_000, updated: 0 });
    const insertMs = performance.now() - started;
    started = performance.now();
    expect(await journal.importIncidents(batch)).toEqual({ inserted: 0, updated: 100_000 });
    const updateMs = performance.now() - started;
    // Both together took about 1.2 s here; the bound only catches a lost index or a read per row.
    expect(insertMs).toBeLessThan(5_000);
    expect(updateMs).toBeLessThan(5_000);
    expect(await journal.countIncidents()).toBe(100_000);
  });
});
