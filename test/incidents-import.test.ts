import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";

let dir: string;
let journal: string;

// A pager export as such tools write it: its own column names, local times without an offset,
// a quoted title over two lines, an open incident.
const pagerduty = [
  "Incident Number,Title,Service,Urgency,Created On,Acknowledged On,Resolved On,Team",
  '1001,"Checkout 5xx, EU",checkout,high,2026-03-28 23:50:00,2026-03-28 23:55:00,2026-03-29 01:20:00,payments',
  '1002,"Disk full on db-3',
  'after backup",database,low,2026-03-29 03:10:00,,2026-03-29 04:00:00,storage',
  "1003,Search latency,search,high,2026-03-30 09:00:00,2026-03-30 09:04:00,,web",
  "",
].join("\n");

const mapping = [
  "timezone: Europe/Berlin",
  "fields:",
  "  id: Incident Number",
  "  service: Service",
  "  severity: Urgency",
  "  started: Created On",
  "  acknowledged: Acknowledged On",
  "  resolved: Resolved On",
  "labels:",
  "  team: Team",
  "",
].join("\n");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-import-cli-"));
  journal = join(dir, "journal.db");
  await writeFile(join(dir, "pagerduty.csv"), pagerduty);
  await writeFile(join(dir, "mapping.yaml"), mapping);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const importFile = (...args: string[]) => runOpskit(["incidents", "import", ...args, "--journal", journal], { cwd: dir });

function query<T>(sql: string): T[] {
  const db = new Database(journal, { readonly: true, strict: true });
  try {
    return db.query(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe("opskit incidents import", () => {
  test("a CSV export with a mapping file lands in the journal with its milestones in UTC", async () => {
    const run = await importFile("pagerduty.csv", "--mapping", "mapping.yaml");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe([
      "columns:",
      "  id                   Incident Number",
      "  title                Title",
      "  service              Service",
      "  severity             Urgency",
      "  started              Created On",
      "  acknowledged         Acknowledged On",
      "  resolved             Resolved On",
      "  label team           Team",
      "imported 3 incidents from pagerduty.csv (3 new, 0 updated, 0 rows skipped)",
      "",
    ].join("\n"));
    const rows = query<Record<string, unknown>>("SELECT * FROM incidents ORDER BY external_id");
    expect(rows.map((r) => [r.external_id, r.origin, r.source, r.status, r.service, r.severity, r.fingerprint])).toEqual([
      ["1001", "pagerduty", "import", "resolved", "checkout", "high", "import:pagerduty:1001"],
      ["1002", "pagerduty", "import", "resolved", "database", "low", "import:pagerduty:1002"],
      ["1003", "pagerduty", "import", "open", "search", "high", "import:pagerduty:1003"],
    ]);
    // 2026-03-29 is the spring-forward day in Berlin: CET (UTC+1) before 02:00, CEST (UTC+2) after.
    expect(rows[0]).toMatchObject({ started_at: Date.UTC(2026, 2, 28, 22, 50), acknowledged_at: Date.UTC(2026, 2, 28, 22, 55), resolved_at: Date.UTC(2026, 2, 29, 0, 20) });
    expect(rows[1]).toMatchObject({ title: "Disk full on db-3\nafter backup", started_at: Date.UTC(2026, 2, 29, 1, 10), detected_at: null, resolved_at: Date.UTC(2026, 2, 29, 2, 0) });
    expect(JSON.parse(rows[2]!.labels as string)).toEqual({ team: "web", service: "search", severity: "high" });
  });

  test("importing the same file again updates the rows instead of adding any", async () => {
    const run = await importFile("pagerduty.csv", "--mapping", "mapping.yaml", "--json");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      format: "csv", rows: 3, inserted: 0, updated: 3, skipped: [],
      columns: { id: "Incident Number", title: "Title", service: "Service", severity: "Urgency", started: "Created On", acknowledged: "Acknowledged On", resolved: "Resolved On" },
      labels: { team: "Team" },
    });
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM incidents")[0]!.n).toBe(3);
  });

  test("a later export that resolves an incident updates it in place", async () => {
    await writeFile(join(dir, "later.csv"), pagerduty.replace("2026-03-30 09:04:00,,web", "2026-03-30 09:04:00,2026-03-30 10:00:00,web"));
    const run = await importFile("later.csv", "--mapping", "mapping.yaml", "--source", "pagerduty");
    expect(run.stdout).toEndWith("\nimported 3 incidents from later.csv (0 new, 3 updated, 0 rows skipped)\n");
    expect(query<Record<string, unknown>>("SELECT status, resolved_at, resolution FROM incidents WHERE external_id = '1003'")).toEqual([
      { status: "resolved", resolved_at: Date.UTC(2026, 2, 30, 8, 0), resolution: "imported" },
    ]);
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM incidents")[0]!.n).toBe(3);
  });

  test("a bad row fails the import with its line number; --on-error skip imports the rest and lists it", async () => {
    const csv = [
      "id,title,created,resolved",
      'x1,"two',
      'lines",2026-03-01T10:00:00Z,2026-03-01T11:00:00Z',
      "x2,gap,2026-03-29 02:30:00,",
      "x3,fine,2026-03-02T10:00:00Z,2026-03-02T09:00:00Z",
      "x4,fine,2026-03-03 10:00:00,",
      "",
    ].join("\n");
    await writeFile(join(dir, "legacy.csv"), csv);
    const before = query<{ n: number }>("SELECT COUNT(*) AS n FROM incidents")[0]!.n;

    const failed = await importFile("legacy.csv", "--timezone", "Europe/Berlin");
    expect(failed.code).toBe(65);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toContain("legacy.csv: 2 of 4 rows are invalid, nothing was imported:");
    expect(failed.stderr).toContain('  line 4: started: "2026-03-29 02:30:00" does not exist in Europe/Berlin (the clocks skip it)');
    expect(failed.stderr).toContain("  line 5: resolved 2026-03-02T09:00:00.000Z is before started 2026-03-02T10:00:00.000Z");
    expect(failed.stderr).toContain("hint: fix these rows, or pass --on-error skip");
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM incidents")[0]!.n).toBe(before);

    const skipped = await importFile("legacy.csv", "--timezone", "Europe/Berlin", "--on-error", "skip");
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toBe([
      "columns:",
      "  id                   id",
      "  title                title",
      "  started              created",
      "  resolved             resolved",
      "skipped:",
      '  line 4: started: "2026-03-29 02:30:00" does not exist in Europe/Berlin (the clocks skip it)',
      "  line 5: resolved 2026-03-02T09:00:00.000Z is before started 2026-03-02T10:00:00.000Z",
      "imported 2 incidents from legacy.csv (2 new, 0 updated, 2 rows skipped)",
      "",
    ].join("\n"));
    expect(query<{ origin: string; external_id: string }>("SELECT origin, external_id FROM incidents WHERE origin = 'legacy' ORDER BY external_id")).toEqual([
      { origin: "legacy", external_id: "x1" },
      { origin: "legacy", external_id: "x4" },
    ]);
  });

  test("a JSON export with --map and --label flags; --json prints the report", async () => {
    const items = [
      { number: "OG-1", message: "Kafka lag", createdAt: "2026-02-01T08:00:00Z", closedAt: "2026-02-01T08:45:00Z", tags: "kafka", owner: "data" },
      { number: "OG-2", message: "Kafka lag", createdAt: 1769936400, owner: "data" },
    ];
    await writeFile(join(dir, "opsgenie.json"), JSON.stringify({ incidents: items }));
    const run = await importFile("opsgenie.json", "--map", "id=number", "--map", "title=message", "--map", "started=createdAt", "--map", "resolved=closedAt", "--label", "team=owner", "--json");
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ format: "json", rows: 2, inserted: 2, updated: 0, skipped: [], columns: { id: "number", title: "message", started: "createdAt", resolved: "closedAt" }, labels: { team: "owner" } });
    expect(query<Record<string, unknown>>("SELECT external_id, title, alertname, labels, started_at, resolved_at, status FROM incidents WHERE origin = 'opsgenie' ORDER BY external_id")).toEqual([
      { external_id: "OG-1", title: "Kafka lag", alertname: "Kafka lag", labels: '{"team":"data"}', started_at: Date.UTC(2026, 1, 1, 8), resolved_at: Date.UTC(2026, 1, 1, 8, 45), status: "resolved" },
      { external_id: "OG-2", title: "Kafka lag", alertname: "Kafka lag", labels: '{"team":"data"}', started_at: 1769936400000, resolved_at: null, status: "open" },
    ]);
  });

  test("a mapped column the file does not have names it and the columns there are", async () => {
    const run = await importFile("pagerduty.csv", "--map", "id=Number");
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('pagerduty.csv has no column "Number" (field id)');
    expect(run.stderr).toContain('its columns are "Incident Number", "Title", "Service", "Urgency", "Created On", "Acknowledged On", "Resolved On", "Team"');
  });

  test("usage errors: no file, a malformed --map, an unknown field or --on-error value", async () => {
    expect((await importFile()).code).toBe(64);
    const malformed = await importFile("pagerduty.csv", "--map", "id");
    expect([malformed.code, malformed.stderr]).toEqual([64, expect.stringContaining('--map "id": expected NAME=COLUMN')]);
    const unknown = await importFile("pagerduty.csv", "--map", "opened=Created On");
    expect([unknown.code, unknown.stderr]).toEqual([64, expect.stringContaining('unknown field "opened"')]);
    expect((await importFile("pagerduty.csv", "--on-error", "ignore")).code).toBe(64);
  });
});
