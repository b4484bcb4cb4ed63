// MTTR on PostgreSQL (percentile_cont and GROUPING SETS in SQL) against the
// SQLite journal's (one pass in JavaScript): the same incidents, written
// through the journal's interface into both, give the same result for every
// form of query, to the last bit.
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, queryDatabase, type TestDatabase } from "../../test/harness/postgres.ts";
import { openPostgresJournal } from "./postgres.ts";
import { openSqliteJournal } from "./sqlite.ts";
import type { ImportedIncident, Journal, Milestone, MttrQuery } from "./types.ts";

const dir = mkdtempSync(join(tmpdir(), "opskit-pg-mttr-"));
const databases: TestDatabase[] = [];
const opened: Journal[] = [];
afterAll(async () => {
  for (const journal of opened) await journal.close();
  for (const database of databases) await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh pair: the SQLite journal and the PostgreSQL one. */
async function pair(): Promise<[Journal, Journal]> {
  const database = await createTestDatabase();
  databases.push(database);
  const both: [Journal, Journal] = [openSqliteJournal(join(mkdtempSync(join(dir, "j-")), "journal.db")), await openPostgresJournal(database.url)];
  opened.push(...both);
  return both;
}

const T0 = Date.UTC(2026, 0, 5);
const MIN = 60_000;
const DAY = 86_400_000;

interface Sample {
  service: string | null;
  severity: string | null;
  team: string | undefined;
  rule: string | undefined;
  started: number;
  /** Offsets from the start in ms, null when the milestone never happened. */
  offsets: Partial<Record<Milestone, number | null>>;
  resolved: boolean;
  escalated: boolean;
  automated: boolean;
  attempts: number;
  imported: boolean;
}

/** Offsets: none, zero, negative (clocks that disagree), odd milliseconds, days. */
const offset = fc.option(fc.oneof(fc.constant(0), fc.integer({ min: -90_000, max: 90_000 }), fc.integer({ min: 0, max: 200_000_000 })), { nil: null });
const sampleArb: fc.Arbitrary<Sample> = fc.record({
  // Empty, accented, astral and ligature names, and a case and a space apart: SQLite's binary order is the order to keep.
  service: fc.constantFrom(null, "", "api", "db", "é-svc", "\u{1D11E}", "\uFB00", "Api", "api "),
  severity: fc.constantFrom(null, "critical", "warning"),
  team: fc.constantFrom(undefined, "core", "edge", "7", "Ω"),
  rule: fc.constantFrom(undefined, "restart", "scale-out"),
  started: fc.integer({ min: -40 * 24 * 60, max: 120 * 24 * 60 }).map((minutes) => T0 + minutes * MIN + (minutes % 7)),
  offsets: fc.record({ detected: offset, acknowledged: offset, remediation_started: offset, remediated: offset, resolved: offset }),
  resolved: fc.boolean(),
  escalated: fc.boolean(),
  automated: fc.boolean(),
  attempts: fc.integer({ min: 0, max: 3 }),
  imported: fc.boolean(),
});

function labelsOf(s: Sample): Record<string, string> {
  return { alertname: "Down", ...(s.service !== null ? { service: s.service } : {}), ...(s.severity !== null ? { severity: s.severity } : {}), ...(s.team !== undefined ? { team: s.team } : {}) };
}

/** Writes the samples through the journal's interface: opened incidents (milestones, status, counts), and imported history. */
async function load(journal: Journal, samples: readonly Sample[]): Promise<void> {
  const imported: ImportedIncident[] = [];
  for (const [n, s] of samples.entries()) {
    const at = (m: Milestone) => (s.offsets[m] === null || s.offsets[m] === undefined ? undefined : s.started + s.offsets[m]!);
    if (s.imported) {
      imported.push({
        origin: "pagerduty", externalId: `P${n}`, title: "Down", labels: labelsOf(s), started: s.started, ...(at("detected") !== undefined ? { detected: at("detected") } : {}),
        ...(at("acknowledged") !== undefined ? { acknowledged: at("acknowledged") } : {}), ...(at("remediation_started") !== undefined ? { remediationStarted: at("remediation_started") } : {}),
        ...(s.resolved && at("resolved") !== undefined ? { resolved: at("resolved") } : {}), escalated: s.escalated,
      });
      continue;
    }
    const milestones: Partial<Record<Milestone, number>> = { started: s.started };
    for (const m of ["detected", "acknowledged", "remediation_started", "remediated", "resolved"] as const) if (at(m) !== undefined) milestones[m] = at(m)!;
    const { id } = await journal.openIncident({ fingerprint: `fp-${n}`, title: "Down", source: "alertmanager", labels: labelsOf(s), annotations: {}, ...(s.rule ? { rule: s.rule } : {}), milestones, lastNotifiedAt: s.started });
    await journal.updateIncident(id, { attempts: s.attempts, escalated: s.escalated, automated: s.automated, ...(s.resolved ? { status: "resolved" as const } : {}) });
  }
  if (imported.length > 0) await journal.importIncidents(imported);
}

/** Every form a query takes: each grouping, each split, trends and overall, with and without a range. */
function queries(): MttrQuery[] {
  const groupings: (MttrQuery["groupBy"] | undefined)[] = [
    undefined, { column: "service" }, { column: "severity" }, { column: "alertname" }, { column: "rule" }, { label: "team" }, { label: "nobody-has-it" }, { label: 'we"ird\\label' },
  ];
  const splits: (MttrQuery["split"] | undefined)[] = [undefined, { kind: "automated" }, { kind: "at", at: T0 + 30 * DAY }];
  const extras: Pick<MttrQuery, "trends" | "overall">[] = [{}, { trends: true, overall: true }, { trends: true }];
  const ranges: Pick<MttrQuery, "since" | "until">[] = [{}, { since: T0 - 10 * DAY, until: T0 + 60 * DAY }, { since: T0 + 5 * DAY }, { until: T0 }];
  return groupings.flatMap((groupBy) =>
    splits.flatMap((split) => extras.flatMap((extra) => ranges.map((range) => ({ ...(groupBy ? { groupBy } : {}), ...(split ? { split } : {}), ...extra, ...range })))),
  );
}

describe("MTTR on PostgreSQL equals the SQLite journal's", () => {
  test("2,000 incidents, every form of query: the same phases, counts, weekly trend, distribution and overall rows", async () => {
    const [sqlite, postgres] = await pair();
    const samples = fc.sample(sampleArb, { numRuns: 2_000, seed: 13 });
    await load(sqlite, samples);
    await load(postgres, samples);
    const forms = queries();
    expect(forms).toHaveLength(8 * 3 * 3 * 4);
    for (const query of forms) {
      const expected = await sqlite.mttr(query);
      expect({ query, result: await postgres.mttr(query) }).toEqual({ query, result: expected });
    }
    // The data is not degenerate: groups, cohorts and every phase have rows.
    const grouped = await postgres.mttr({ groupBy: { column: "service" }, split: { kind: "automated" }, overall: true });
    expect(new Set(grouped.phases.map((p) => p.group)).size).toBe(9);
    expect(new Set(grouped.phases.map((p) => `${p.cohort}/${p.phase}`)).size).toBe(8);
  });

  test("generated histories and queries give the same result", async () => {
    const queryArb = fc.constantFrom(...queries());
    const [, postgres] = await pair();
    const database = databases.at(-1)!;
    await fc.assert(
      fc.asyncProperty(fc.array(sampleArb, { minLength: 0, maxLength: 40 }), fc.array(queryArb, { minLength: 1, maxLength: 8 }), async (samples, forms) => {
        // One database for every run (emptied), a new SQLite file each: shrinking a failure may take hundreds of runs.
        await queryDatabase(database.url, "TRUNCATE incidents");
        const sqlite = openSqliteJournal(join(mkdtempSync(join(dir, "j-")), "journal.db"));
        try {
          await load(sqlite, samples);
          await load(postgres, samples);
          for (const query of forms) expect(await postgres.mttr(query)).toEqual(await sqlite.mttr(query));
        } finally {
          await sqlite.close();
        }
      }),
      { numRuns: 12 },
    );
  });
});
