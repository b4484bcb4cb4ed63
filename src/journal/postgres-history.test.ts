// Imports into the PostgreSQL journal against the SQLite journal's: the same
// rows (several statements' worth, an incident repeated within a statement and
// across statements) give the same counts and the same incidents; a failure
// after statements were written leaves nothing.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, queryDatabase, type TestDatabase } from "../../test/harness/postgres.ts";
import { openPostgresJournal } from "./postgres.ts";
import { openSqliteJournal } from "./sqlite.ts";
import type { ImportedIncident, IncidentRecord, Journal } from "./types.ts";

const dir = mkdtempSync(join(tmpdir(), "opskit-pg-history-"));
const databases: TestDatabase[] = [];
const opened: Journal[] = [];
afterAll(async () => {
  for (const journal of opened) await journal.close();
  for (const database of databases) await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function pair(): Promise<{ sqlite: Journal; postgres: Journal; url: string }> {
  const database = await createTestDatabase();
  databases.push(database);
  const sqlite = openSqliteJournal(join(mkdtempSync(join(dir, "j-")), "journal.db"));
  const postgres = await openPostgresJournal(database.url);
  opened.push(sqlite, postgres);
  return { sqlite, postgres, url: database.url };
}

const t0 = Date.UTC(2025, 10, 3, 9);
const minute = 60_000;

/** Row n of an export: every seventh repeats an earlier incident (the same id, later data), some in the same statement, some far apart. */
function row(n: number, revision = 0): ImportedIncident {
  const id = n % 7 === 6 ? (n % 2 === 0 ? n - 3 : n - 2_500) : n;
  return {
    origin: n % 11 === 0 ? "opsgenie" : "pagerduty",
    externalId: `P${Math.max(id, 0)}`,
    title: `Incident ${n}${revision ? ` r${revision}` : ""}`,
    labels: { service: `svc-${n % 13}`, ...(n % 5 === 0 ? {} : { severity: n % 2 ? "critical" : "warning" }), ...(n % 3 === 0 ? { alertname: "Latency" } : {}) },
    started: t0 + n * minute,
    ...(n % 4 === 0 ? {} : { acknowledged: t0 + n * minute + 2 * minute }),
    ...(n % 6 === 0 ? { detected: t0 + n * minute + 30_000 } : {}),
    ...(n % 8 === 0 ? { remediationStarted: t0 + n * minute + 5 * minute } : {}),
    ...(n % 10 === 0 ? {} : { resolved: t0 + n * minute + (40 + (n % 17)) * minute }),
    escalated: n % 9 === 0,
  };
}

function* rows(count: number, revision = 0): Generator<ImportedIncident> {
  for (let n = 0; n < count; n++) yield row(n, revision);
}

describe("importing history into PostgreSQL", () => {
  test("several statements' worth of rows, incidents repeated within and across statements: the SQLite journal's counts and incidents", async () => {
    const { sqlite, postgres } = await pair();
    for (const [count, revision] of [[5_000, 0], [6_500, 1], [10, 2]] as const) {
      const expected = await sqlite.importIncidents(rows(count, revision));
      expect(await postgres.importIncidents(rows(count, revision))).toEqual(expected);
    }
    const total = await sqlite.countIncidents();
    expect(await postgres.countIncidents()).toBe(total);
    // In the same order (by id); the ids themselves are each database's own (PostgreSQL's identity skips numbers an update took).
    const withoutId = (incidents: IncidentRecord[]) => incidents.map(({ id: _, ...incident }) => incident);
    expect(withoutId(await postgres.listIncidents({ limit: total }))).toEqual(withoutId(await sqlite.listIncidents({ limit: total })));
    expect(await postgres.countIncidents({ status: "open" })).toBe(await sqlite.countIncidents({ status: "open" }));
  });

  test("a row that fails after whole statements were written imports nothing, and the journal goes on", async () => {
    const { postgres, url } = await pair();
    await postgres.importIncidents([row(1)]);
    function* failing(): Generator<ImportedIncident> {
      yield* rows(4_500);
      throw new Error("the export is cut off at line 4,502");
    }
    await expect(postgres.importIncidents(failing())).rejects.toThrow("cut off");
    expect(await postgres.countIncidents()).toBe(1);
    // A transaction of its own, rolled back: no session of it is left behind in the database.
    expect(await queryDatabase(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")).toEqual([]);
    expect(await postgres.importIncidents(rows(3))).toEqual({ inserted: 2, updated: 1 });
  });

  test("an import inside a journal transaction is part of it: rolled back with it", async () => {
    const { postgres } = await pair();
    await expect(
      postgres.transaction(async (tx) => {
        expect(await tx.importIncidents(rows(2_100))).toMatchObject({ inserted: expect.any(Number) });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await postgres.countIncidents()).toBe(0);
  });
});
