import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isOpsError, type OpsError } from "../errors.ts";
import { openJournal, type HistoryStore, type ImportedIncident } from "../journal/index.ts";
import { defaultMapping, importIncidents, readMapping, type ImportOptions } from "./import.ts";
import { timestampReader } from "./timestamps.ts";

const dir = mkdtempSync(join(tmpdir(), "opskit-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A journal that records what it was asked to write. */
let written: ImportedIncident[][];
const journal: HistoryStore = {
  async importIncidents(rows) {
    // Reading the rows is where a lazy import fails: nothing is recorded then, as a rolled-back transaction writes nothing.
    const all = [...rows];
    written.push(all);
    return { inserted: all.length, updated: 0 };
  },
};
beforeEach(() => {
  written = [];
});

let files = 0;
function file(name: string, text: string): string {
  const path = join(dir, `${files++}-${name}`);
  writeFileSync(path, text);
  return path;
}

const run = (path: string, options: Partial<ImportOptions> = {}) =>
  importIncidents(journal, { file: path, mapping: defaultMapping, origin: "pager", timezone: "UTC", onError: "fail", ...options });

async function failure(promise: Promise<unknown>): Promise<OpsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isOpsError(error)) throw new Error(`expected an OpsError, got ${String(error)}`);
  return error;
}

const utc = (text: string) => Date.parse(text);

describe("timestamps", () => {
  const read = timestampReader("UTC");

  test("ISO 8601 with Z or an offset is taken as it is, fractions and basic offsets included", () => {
    expect(read("2026-03-29T02:30:00Z")).toBe(utc("2026-03-29T02:30:00Z"));
    expect(read("2026-03-29T02:30:00.123456+02:00")).toBe(utc("2026-03-29T00:30:00.123Z"));
    expect(read("2026-03-29 02:30:00 -0530")).toBe(utc("2026-03-29T08:00:00Z"));
    expect(read("2026-03-29T02:30+01")).toBe(utc("2026-03-29T01:30:00Z"));
    expect(read("2026-03-29t02:30:00,5z")).toBe(utc("2026-03-29T02:30:00.500Z"));
  });

  test("any valid date and time reads as Date.parse reads it", () => {
    const two = (n: number) => String(n).padStart(2, "0");
    fc.assert(
      fc.property(fc.date({ min: new Date("0100-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }), (date) => {
        const iso = date.toISOString();
        expect(read(iso)).toBe(date.getTime());
        expect(read(`${iso.slice(0, 10)} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}+00:00`)).toBe(date.getTime() - date.getUTCMilliseconds());
      }),
      { numRuns: 2000 },
    );
    expect(read("0050-01-01T00:00:00Z")).toBe(Date.UTC(50, 0, 1));
  });

  test("the common shape YYYY-MM-DDTHH:MM:SSZ reads as Date.parse reads it, and a day or time that does not exist is still no timestamp", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date("0100-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }), (date) => {
        const text = `${date.toISOString().slice(0, 19)}Z`;
        expect(read(text)).toBe(Date.parse(text));
      }),
      { numRuns: 2000 },
    );
    expect(read("1969-12-31T23:59:59Z")).toBe(-1000);
    expect(read("2024-02-29T12:00:00Z")).toBe(utc("2024-02-29T12:00:00Z"));
    for (const text of ["2026-02-29T12:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-0xT00:00:00Z", "2026-01-01T00:00:00X"]) {
      expect(read(text)).toBe(`${JSON.stringify(text)} is not a timestamp`);
    }
  });

  test("digits are epoch seconds, or milliseconds from 10^11 on", () => {
    expect(read("1774751400")).toBe(1774751400000);
    expect(read("1774751400.25")).toBe(1774751400250);
    expect(read("1774751400123")).toBe(1774751400123);
  });

  test("a time without offset is read in the zone; a date alone is its midnight", () => {
    expect(read("2026-03-29 02:30:00")).toBe(utc("2026-03-29T02:30:00Z"));
    expect(read("2026-03-29")).toBe(utc("2026-03-29T00:00:00Z"));
    expect(timestampReader("Asia/Kolkata")("2026-01-15 12:00")).toBe(utc("2026-01-15T06:30:00Z"));
  });

  test("text that is no timestamp, or a day or hour that does not exist, says so", () => {
    for (const text of ["yesterday", "29/03/2026 02:30", "2026-02-30 10:00:00", "2026-13-01", "2026-03-29T24:00:00Z", "2026-03-29T02:30:00+2", "2026-03-29T02:30:00 CET", "2026-03-29T02:30:00 UTC+1", "2026-3-29"]) {
      expect(read(text)).toBe(`${JSON.stringify(text)} is not a timestamp`);
    }
    expect(read("2028-02-29 12:00")).toBe(utc("2028-02-29T12:00:00Z"));
  });

  // Offsets computed by hand: CET is UTC+1, CEST UTC+2 (from 01:00 UTC on the last Sunday of March
  // to 01:00 UTC on the last Sunday of October); EST is UTC-5, EDT UTC-4 (from 02:00 local on the
  // second Sunday of March to 02:00 local on the first Sunday of November).
  test("Europe/Berlin: the spring-forward gap does not exist, the fall-back hour takes the earlier instant", () => {
    const berlin = timestampReader("Europe/Berlin");
    expect(berlin("2026-03-29 01:59:59")).toBe(Date.UTC(2026, 2, 29, 0, 59, 59));
    expect(berlin("2026-03-29 02:00:00")).toBe('"2026-03-29 02:00:00" does not exist in Europe/Berlin (the clocks skip it)');
    expect(berlin("2026-03-29 02:30:00")).toBe('"2026-03-29 02:30:00" does not exist in Europe/Berlin (the clocks skip it)');
    expect(berlin("2026-03-29 03:00:00")).toBe(Date.UTC(2026, 2, 29, 1, 0, 0));
    expect(berlin("2026-03-28 12:00:00")).toBe(Date.UTC(2026, 2, 28, 11, 0, 0));
    expect(berlin("2026-03-30 12:00:00")).toBe(Date.UTC(2026, 2, 30, 10, 0, 0));

    expect(berlin("2025-10-26 01:59:59")).toBe(Date.UTC(2025, 9, 25, 23, 59, 59));
    expect(berlin("2025-10-26 02:00:00")).toBe(Date.UTC(2025, 9, 26, 0, 0, 0));
    expect(berlin("2025-10-26 02:30:00")).toBe(Date.UTC(2025, 9, 26, 0, 30, 0));
    expect(berlin("2025-10-26 02:59:59.999")).toBe(Date.UTC(2025, 9, 26, 0, 59, 59, 999));
    expect(berlin("2025-10-26 03:00:00")).toBe(Date.UTC(2025, 9, 26, 2, 0, 0));
    expect(berlin("2025-10-26T02:30:00+01:00")).toBe(Date.UTC(2025, 9, 26, 1, 30, 0));
  });

  test("America/New_York: the same at its own boundaries", () => {
    const newYork = timestampReader("America/New_York");
    expect(newYork("2026-03-08 01:59:59")).toBe(Date.UTC(2026, 2, 8, 6, 59, 59));
    expect(newYork("2026-03-08 02:30:00")).toBe('"2026-03-08 02:30:00" does not exist in America/New_York (the clocks skip it)');
    expect(newYork("2026-03-08 03:00:00")).toBe(Date.UTC(2026, 2, 8, 7, 0, 0));

    expect(newYork("2025-11-02 00:59:00")).toBe(Date.UTC(2025, 10, 2, 4, 59, 0));
    expect(newYork("2025-11-02 01:30:00")).toBe(Date.UTC(2025, 10, 2, 5, 30, 0));
    expect(newYork("2025-11-02 02:00:00")).toBe(Date.UTC(2025, 10, 2, 7, 0, 0));
    expect(newYork("2025-07-04 12:00:00")).toBe(Date.UTC(2025, 6, 4, 16, 0, 0));
    expect(newYork("2025-12-24 12:00:00")).toBe(Date.UTC(2025, 11, 24, 17, 0, 0));
  });

  test("an unknown zone is an error before any row is read", () => {
    let error: unknown;
    try {
      timestampReader("Europe/Atlantis");
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "E_IMPORT_TIMEZONE", exitCode: 65 });
  });
});

describe("CSV", () => {
  test("default columns match case-insensitively, created stands for started, service and severity become labels", async () => {
    const path = file("export.csv", ["ID,Title,Service,Severity,Created,Detected,Acknowledged,Resolved,Escalated", "P1,Disk full,db,critical,2026-01-05T10:00:00Z,2026-01-05T10:02:00Z,2026-01-05T10:05:00Z,2026-01-05T11:00:00Z,yes", "P2,,api,,1767607200,,,,no", ""].join("\n"));
    expect(await run(path)).toEqual({
      format: "csv", rows: 2, inserted: 2, updated: 0, skipped: [], labels: {},
      columns: { id: "ID", title: "Title", service: "Service", severity: "Severity", started: "Created", detected: "Detected", acknowledged: "Acknowledged", resolved: "Resolved", escalated: "Escalated" },
    });
    expect(written).toEqual([[
      {
        origin: "pager", externalId: "P1", title: "Disk full", labels: { service: "db", severity: "critical" }, started: utc("2026-01-05T10:00:00Z"),
        detected: utc("2026-01-05T10:02:00Z"), acknowledged: utc("2026-01-05T10:05:00Z"), resolved: utc("2026-01-05T11:00:00Z"), escalated: true,
      },
      { origin: "pager", externalId: "P2", title: "P2", labels: { service: "api" }, started: 1767607200000 },
    ]]);
  });

  test("mapped columns, labels and a local time zone; quoted commas, quotes and newlines stay in the title", async () => {
    const path = file("pd.csv", 'Incident Number,Title,Created On,Resolved On,Team,Urgency\r\n1042,"Checkout ""5xx"", EU\r\nsecond line",2026-03-29 01:30:00,2026-03-29 03:10:00,payments,high\r\n');
    const mapping = { ...defaultMapping, id: "Incident Number", started: "created on", resolved: "Resolved On", labels: { team: "Team", urgency: "Urgency" } };
    expect(await run(path, { mapping, timezone: "Europe/Berlin" })).toMatchObject({ rows: 1, inserted: 1 });
    expect(written[0]).toEqual([{
      origin: "pager", externalId: "1042", title: 'Checkout "5xx", EU\r\nsecond line', labels: { team: "payments", urgency: "high" },
      started: Date.UTC(2026, 2, 29, 0, 30), resolved: Date.UTC(2026, 2, 29, 1, 10),
    }]);
  });

  test("a bad row fails the import and nothing is written; the error lists every bad row by its physical line", async () => {
    const path = file("bad.csv", [
      "id,title,started,acknowledged,resolved", // 1
      'A1,"two', // 2
      'lines",2026-01-01T00:00:00Z,,', // 3
      "", // 4
      ",no id,2026-01-01T00:00:00Z,,", // 5
      "A2,no start,,,", // 6
      "A3,bad start,soon,,", // 7
      "A4,ack early,2026-01-01T10:00:00Z,2026-01-01T09:00:00Z,", // 8
      "A5,resolved early,2026-01-01T10:00:00Z,,2026-01-01T09:59:59Z", // 9
      "A1,again,2026-01-02T00:00:00Z,,", // 10
      "A6,short row", // 11
      "A7,fine,2026-01-01T00:00:00Z,,", // 12
    ].join("\n"));
    const error = await failure(run(path));
    expect(error.code).toBe("E_IMPORT_ROWS");
    expect(error.exitCode).toBe(65);
    expect(error.hint).toContain("--on-error skip");
    expect(error.message).toBe([
      `${path}: 7 of 9 rows are invalid, nothing was imported:`,
      '  line 5: missing id (column "id")',
      '  line 6: missing started (column "started")',
      '  line 7: started: "soon" is not a timestamp',
      "  line 8: acknowledged 2026-01-01T09:00:00.000Z is before started 2026-01-01T10:00:00.000Z",
      "  line 9: resolved 2026-01-01T09:59:59.000Z is before started 2026-01-01T10:00:00.000Z",
      '  line 10: duplicate id "A1" (first at line 2)',
      "  line 11: 2 fields where the header has 5",
    ].join("\n"));
    expect(written).toEqual([]);
  });

  test("with onError skip the bad rows are reported and the others imported", async () => {
    const path = file("skip.csv", "id,started\nB1,2026-01-01T00:00:00Z\nB2,\nB3,2026-01-01T01:00:00Z\nB1,2026-01-01T02:00:00Z\n");
    const report = await run(path, { onError: "skip" });
    expect(report).toMatchObject({ format: "csv", rows: 4, inserted: 2, updated: 0, skipped: [
      { line: 3, reason: 'missing started (column "started")' },
      { line: 5, reason: 'duplicate id "B1" (first at line 2)' },
    ] });
    expect(written[0]!.map((r) => r.externalId)).toEqual(["B1", "B3"]);
  });

  test("duplicate ids are found whether the file is in id order or not", async () => {
    const ids = ["9", "10", "11", "10", "100", "50", "50", "101", "9", "x", "a", "a"];
    const path = file("dupes.csv", ["id,started", ...ids.map((id) => `${id},2026-01-01T00:00:00Z`)].join("\n"));
    const report = await run(path, { onError: "skip" });
    expect(report.skipped).toEqual([
      { line: 5, reason: 'duplicate id "10" (first at line 3)' },
      { line: 8, reason: 'duplicate id "50" (first at line 7)' },
      { line: 10, reason: 'duplicate id "9" (first at line 2)' },
      { line: 13, reason: 'duplicate id "a" (first at line 12)' },
    ]);
    expect(written[0]!.map((r) => r.externalId)).toEqual(["9", "10", "11", "100", "50", "101", "x", "a"]);
  });

  test("a row with several problems lists them all; past 20 bad rows the error counts the rest", async () => {
    const rows = Array.from({ length: 25 }, (_, i) => `C${i},2026-01-01T10:00:00Z,2026-01-01T09:00:00Z,maybe`);
    const error = await failure(run(file("many.csv", ["id,started,resolved,escalated", ...rows].join("\n"))));
    const lines = error.message.split("\n");
    expect(lines[0]).toEndWith("25 of 25 rows are invalid, nothing was imported:");
    expect(lines[1]).toBe('  line 2: resolved 2026-01-01T09:00:00.000Z is before started 2026-01-01T10:00:00.000Z; escalated: "maybe" is not true/false, yes/no or 1/0');
    expect(lines).toHaveLength(22);
    expect(lines[21]).toBe("  … and 5 more");
  });

  test("a mapped column the file lacks names the file, the column and the columns it has", async () => {
    const path = file("cols.csv", "Number,Opened\nD1,2026-01-01T00:00:00Z\n");
    const missingField = await failure(run(path, { mapping: { ...defaultMapping, id: "Incident Number", started: "Opened" } }));
    expect(missingField).toMatchObject({ code: "E_IMPORT_COLUMN", exitCode: 65, message: `${path} has no column "Incident Number" (field id)` });
    expect(missingField.hint).toStartWith('its columns are "Number", "Opened"');
    const missingLabel = await failure(run(path, { mapping: { ...defaultMapping, id: "Number", started: "Opened", labels: { team: "Team" } } }));
    expect(missingLabel.message).toBe(`${path} has no column "Team" (label team)`);
    const unnamed = file("unnamed.csv", "Number,When\nD1,2026-01-01T00:00:00Z\n");
    const missingDefault = await failure(run(unnamed, { mapping: { ...defaultMapping, id: "Number" } }));
    expect(missingDefault.message).toBe(`${unnamed} has no column for field started, which is required`);
    expect(missingDefault.hint).toStartWith('its columns are "Number", "When"; say which holds it: --map started=COLUMN (or fields: in the mapping file); recognised names: started, started_at,');
  });

  test("an unterminated quote stops the import at the line where its record starts", async () => {
    const path = file("quote.csv", 'id,title,started\nE1,"ok\nstill ok",2026-01-01T00:00:00Z\nE2,"never closed,2026-01-01T00:00:00Z\nE3,x,2026-01-01T00:00:00Z\n');
    const error = await failure(run(path));
    expect(error.code).toBe("E_IMPORT_CSV");
    expect(error.message).toStartWith(`${path}:4: the CSV record starting here cannot be read: Quote Not Closed`);
  });

  test("an empty file, an unreadable file and an unknown extension are errors naming the file", async () => {
    expect(await failure(run(file("empty.csv", "\n\n")))).toMatchObject({ code: "E_IMPORT_COLUMN", message: expect.stringContaining("no header row") });
    expect(await failure(run(join(dir, "missing.csv")))).toMatchObject({ code: "E_IMPORT_READ", message: `cannot read ${join(dir, "missing.csv")}: no such file` });
    expect(await failure(run(dir, { format: "csv" }))).toMatchObject({ code: "E_IMPORT_READ", message: `cannot read ${dir}: not a file` });
    const xlsx = await failure(run(file("export.xlsx", "")));
    expect(xlsx).toMatchObject({ code: "E_IMPORT_FORMAT", exitCode: 65 });
    expect(xlsx.hint).toContain("--format csv");
    expect(await run(file("export.txt", "id,started\nF1,0\n"), { format: "csv" })).toMatchObject({ rows: 1, inserted: 1 });
  });
});

describe("CSV into the SQLite journal", () => {
  const header = "id,title,service,severity,started,resolved";
  const csvRow = (n: number, started = "2026-01-05T10:00:00Z") => `INC-${String(n).padStart(6, "0")},Disk full,db,critical,${started},2026-01-05T11:00:00Z`;
  let journals = 0;
  const openFresh = () => openJournal(join(dir, `journal-${journals++}.db`));

  test("a large file imports once as new rows and again as updates, rows read as the journal writes them", async () => {
    const journal = await openFresh();
    try {
      const path = file("large.csv", [header, ...Array.from({ length: 30_000 }, (_, i) => csvRow(i + 1)), ""].join("\n"));
      const options = { file: path, mapping: defaultMapping, origin: "pager", timezone: "UTC", onError: "fail" } as const;
      expect(await importIncidents(journal, options)).toMatchObject({ format: "csv", rows: 30_000, inserted: 30_000, updated: 0, skipped: [] });
      expect(await importIncidents(journal, options)).toMatchObject({ format: "csv", rows: 30_000, inserted: 0, updated: 30_000, skipped: [] });
      expect(await journal.countIncidents()).toBe(30_000);
      expect(await journal.countIncidents({ status: "resolved" })).toBe(30_000);
    } finally {
      await journal.close();
    }
  });

  test("a bad row late in a large file leaves a journal that already has incidents untouched", async () => {
    const journal = await openFresh();
    try {
      const small = file("small.csv", [header, csvRow(1), csvRow(2), ""].join("\n"));
      const options = { mapping: defaultMapping, origin: "pager", timezone: "UTC", onError: "fail" } as const;
      await importIncidents(journal, { ...options, file: small });
      const before = await journal.listIncidents({ limit: 10 });
      const rows = Array.from({ length: 50_000 }, (_, i) => csvRow(i + 1));
      rows[47_000] = csvRow(47_001, "2026-01-05T12:00:00Z");
      const path = file("late.csv", [header, ...rows, ""].join("\n"));
      const error = await failure(importIncidents(journal, { ...options, file: path }));
      expect(error.code).toBe("E_IMPORT_ROWS");
      expect(error.message).toBe([
        `${path}: 1 of 50000 rows are invalid, nothing was imported:`,
        "  line 47002: resolved 2026-01-05T11:00:00.000Z is before started 2026-01-05T12:00:00.000Z",
      ].join("\n"));
      expect(await journal.countIncidents()).toBe(2);
      expect(await journal.listIncidents({ limit: 10 })).toEqual(before);
    } finally {
      await journal.close();
    }
  });
});

describe("JSON", () => {
  test("an array of objects: numbers are epoch times, booleans flags, missing keys absent fields", async () => {
    const path = file("export.json", JSON.stringify([
      { id: 7, title: "Queue backlog", started: 1767607200, resolved: "2026-01-05T10:30:00Z", escalated: true, team: "core" },
      { id: "8", started: "2026-01-05T11:00:00Z", resolved: null },
    ]));
    const mapping = { ...defaultMapping, labels: { team: "team" } };
    expect(await run(path, { mapping })).toEqual({ format: "json", rows: 2, inserted: 2, updated: 0, skipped: [], columns: { id: "id", title: "title", started: "started", resolved: "resolved", escalated: "escalated" }, labels: { team: "team" } });
    expect(written[0]).toEqual([
      { origin: "pager", externalId: "7", title: "Queue backlog", labels: { team: "core" }, started: 1767607200000, resolved: utc("2026-01-05T10:30:00Z"), escalated: true },
      { origin: "pager", externalId: "8", title: "8", labels: {}, started: utc("2026-01-05T11:00:00Z") },
    ]);
  });

  test('{ "incidents": [...] } works too, and bad items are reported by their index', async () => {
    const path = file("wrapped.json", JSON.stringify({ incidents: [{ id: "G1", started: "2026-01-01T00:00:00Z" }, "oops", { id: "G3", started: "later" }] }));
    const report = await run(path, { onError: "skip" });
    expect(report.skipped).toEqual([
      { line: 1, reason: 'expected an object, got "oops"' },
      { line: 2, reason: 'started: "later" is not a timestamp' },
    ]);
    const error = await failure(run(path));
    expect(error.message).toContain('\n  item 2: started: "later" is not a timestamp');
  });

  test("invalid JSON or JSON without a list is an error naming the file", async () => {
    expect(await failure(run(file("broken.json", "[{")))).toMatchObject({ code: "E_IMPORT_JSON", exitCode: 65 });
    expect(await failure(run(file("object.json", '{"items": []}')))).toMatchObject({ code: "E_IMPORT_JSON", message: expect.stringContaining("holds no list of incidents") });
  });
});

describe("mapping file", () => {
  test("reads format, timezone, origin, on_error, fields and labels; unmapped fields keep their defaults", async () => {
    const path = file("mapping.yaml", [
      "format: csv",
      "timezone: Europe/Berlin",
      "origin: pagerduty",
      "on_error: skip",
      "fields:",
      "  id: Incident Number",
      "  started: Created On",
      "labels:",
      "  team: Team",
      "",
    ].join("\n"));
    expect(await readMapping(path)).toEqual({
      format: "csv", timezone: "Europe/Berlin", origin: "pagerduty", onError: "skip",
      mapping: { ...defaultMapping, id: "Incident Number", started: "Created On", labels: { team: "Team" } },
    });
  });

  test("an unknown key or time zone points at file:line:col", async () => {
    const typo = file("typo.yaml", "fields:\n  id: Number\n  resolve: Closed\n");
    const unknown = await failure(readMapping(typo));
    expect(unknown).toMatchObject({ code: "E_CONFIG_FIELD", exitCode: 65 });
    expect(unknown.message).toStartWith(`${typo}:3:3: fields: unknown key "resolve"`);
    expect(unknown.hint).toContain('did you mean "resolved"');
    const zone = file("zone.yaml", "timezone: Mars/Olympus\n");
    expect((await failure(readMapping(zone))).message).toStartWith(`${zone}:1:11: timezone: not an IANA time zone`);
  });
});
