import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteJournal } from "../src/journal/sqlite.ts";
import type { Milestone } from "../src/journal/index.ts";
// The executable users install, with every duration as the one formatter writes it.
import { runBuilt as runOpskit } from "./harness/binary.ts";

const MIN = 60_000;
const DAY = 86_400_000;
let dir: string;
let journalPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "opskit-mttr-cli-"));
  journalPath = join(dir, "journal.db");
  const journal = openSqliteJournal(journalPath);
  const now = Date.now();
  let n = 0;
  const add = async (labels: Record<string, string>, startedAgoDays: number, at: Partial<Record<Milestone, number>>) => {
    const started = now - startedAgoDays * DAY;
    const record = await journal.openIncident({ fingerprint: `fp-${++n}`, title: labels.alertname!, source: "alertmanager", labels, annotations: {}, milestones: {}, lastNotifiedAt: started });
    await journal.setMilestone(record.id, "started", started);
    for (const [name, minutes] of Object.entries(at)) await journal.setMilestone(record.id, name as Milestone, started + minutes! * MIN);
    if (at.resolved !== undefined) await journal.updateIncident(record.id, { status: "resolved", automated: at.remediated !== undefined });
  };
  // Manual incidents 40 to 50 days ago: resolve 60, 80, 100 minutes.
  for (const [i, minutes] of [60, 80, 100].entries()) await add({ alertname: "ApiDown", service: "api" }, 40 + i, { detected: 2, acknowledged: 10, resolved: minutes });
  // Automated ones in the last 10 days: resolve 10, 20, 30 minutes.
  for (const [i, minutes] of [10, 20, 30].entries()) await add({ alertname: "ApiDown", service: i === 2 ? "db" : "api" }, 2 + i, { detected: 1, remediation_started: 2, remediated: 5, resolved: minutes });
  await add({ alertname: "DbDown", service: "db" }, 1, { detected: 1 });
  await journal.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("opskit mttr", () => {
  test("the table leads with the median and its counts; the open incident is apart", async () => {
    const run = await runOpskit(["mttr", "--journal", journalPath]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Median time to resolve 20m over 3 resolved incidents (1 still open).");
    expect(run.stdout).toMatch(/^time to resolve\s+3\s+20m\s+28m\s+29m48s\s+20m\s+10m\s+30m$/m);
  });

  test("--compare window:30d and --format json: stable fields with the change computed from the data", async () => {
    const run = await runOpskit(["mttr", "--journal", journalPath, "--compare", "window:30d", "--format", "json"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.compare.mode).toBe("window");
    // The previous 30 days hold the three manual incidents; the last 30 the automated ones and the open one.
    expect(report.overall.map((c: any) => [c.incidents, c.resolved, c.open])).toEqual([[3, 3, 0], [4, 3, 1]]);
    expect(report.overall[0].phases.resolve).toMatchObject({ count: 3, median: 80 * MIN });
    expect(report.overall[1].phases.resolve).toMatchObject({ count: 3, median: 20 * MIN });
    expect(report.changes.resolve.median).toBeCloseTo(-0.75, 9);
    const week = JSON.parse((await runOpskit(["mttr", "--journal", journalPath, "--compare", "window:7d", "--format", "json"])).stdout);
    expect(week.overall.map((c: any) => c.incidents)).toEqual([0, 4]);
    expect(week.changes.resolve).toEqual({});
  });

  test("--by service --compare automated --format markdown", async () => {
    const run = await runOpskit(["mttr", "--journal", journalPath, "--since", "90d", "--by", "service", "--compare", "automated", "--format", "markdown"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Median time to resolve down 75% (1h20m → 20m), automated vs manual, over 3 and 3 resolved incidents (1 still open).");
    expect(run.stdout).toContain("## service = api");
    expect(run.stdout).toContain("## service = db");
  });

  test("--format html -o writes one self-contained page with the figures", async () => {
    const out = join(dir, "mttr.html");
    const run = await runOpskit(["mttr", "--journal", journalPath, "--since", "90d", "--compare", "automated", "--format", "html", "-o", out]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`wrote ${out}`);
    const html = readFileSync(out, "utf8");
    expect(html.toLowerCase()).toStartWith("<!doctype html>");
    expect(html).toContain('data-cohort="1" data-phase="resolve" data-stat="median" data-ms="1200000"');
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  test("bad input: a missing journal and unknown options say what to do", async () => {
    const missing = await runOpskit(["mttr", "--journal", join(dir, "none.db")]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("no journal at");
    const compare = await runOpskit(["mttr", "--journal", journalPath, "--compare", "yesterday"]);
    expect(compare.code).toBe(64);
    expect(compare.stderr).toContain("use automated, before:DATE");
    const format = await runOpskit(["mttr", "--journal", journalPath, "--format", "pdf"]);
    expect(format.code).toBe(64);
  });
});

describe("opskit mttr over imported history", () => {
  test("local times across DST in the export's time zone give true durations; offsets are kept", async () => {
    const csv = join(dir, "pager.csv");
    await Bun.write(
      csv,
      [
        "Number,Title,Service,Created,Acknowledged,Resolved",
        // Spring forward in Berlin, 2026-03-29 02:00 CET → 03:00 CEST: 01:30 to 03:30 local is one hour.
        "P-1,Disk full,db,2026-03-29 01:30:00,2026-03-29 01:45:00,2026-03-29 03:30:00",
        // Fall back, 2026-10-25 03:00 CEST → 02:00 CET: 01:30 to 03:30 local is three hours.
        "P-2,Disk full,db,2026-10-25 01:30:00,2026-10-25 01:40:00,2026-10-25 03:30:00",
        // With an offset, the zone does not apply: 5 hours.
        "P-3,API down,api,2026-06-01T10:00:00+05:30,2026-06-01T10:10:00+05:30,2026-06-01T15:00:00+05:30",
      ].join("\n"),
    );
    const journal = join(dir, "history.db");
    const imported = await runOpskit(["incidents", "import", csv, "--journal", journal, "--source", "pager", "--map", "id=Number", "--timezone", "Europe/Berlin"]);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    const run = await runOpskit(["mttr", "--journal", journal, "--since", "2026-01-01", "--until", "2026-12-31", "--by", "service", "--format", "json"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    const db = report.groups.find((g: any) => g.group === "db").cohorts[0].phases;
    expect(db.resolve).toMatchObject({ count: 2, min: 60 * MIN, max: 180 * MIN, median: 120 * MIN });
    // Recovery of a human-handled incident runs from the acknowledgement: 01:45 CET to 03:30 CEST is
    // 45 minutes (not the 1h45m on the wall clock); 01:40 CEST to 03:30 CET is 2h50m.
    expect(db.recover).toMatchObject({ count: 2, min: 45 * MIN, max: 170 * MIN });
    const api = report.groups.find((g: any) => g.group === "api").cohorts[0].phases;
    expect(api.resolve).toMatchObject({ count: 1, median: 300 * MIN });
    expect(report.overall[0]).toMatchObject({ incidents: 3, resolved: 3, manual: 3, automated: 0 });
    // Importing the same file again changes nothing in the figures.
    await runOpskit(["incidents", "import", csv, "--journal", journal, "--source", "pager", "--map", "id=Number", "--timezone", "Europe/Berlin"]);
    const again = JSON.parse((await runOpskit(["mttr", "--journal", journal, "--since", "2026-01-01", "--until", "2026-12-31", "--format", "json"])).stdout);
    expect(again.overall[0].incidents).toBe(3);
  });

  test("--compare before: measures the imported period against opskit's", async () => {
    const csv = join(dir, "before.csv");
    await Bun.write(csv, ["id,title,service,started,resolved", "A,Api down,api,2026-01-10T00:00:00Z,2026-01-10T02:00:00Z", "B,Api down,api,2026-01-11T00:00:00Z,2026-01-11T04:00:00Z"].join("\n"));
    const journal = join(dir, "before.db");
    expect((await runOpskit(["incidents", "import", csv, "--journal", journal])).code).toBe(0);
    const { openSqliteJournal: open } = await import("../src/journal/sqlite.ts");
    const live = open(journal);
    const started = Date.parse("2026-06-01T00:00:00Z");
    const record = await live.openIncident({ fingerprint: "fp-live", title: "ApiDown", source: "alertmanager", labels: { service: "api" }, annotations: {}, milestones: {}, lastNotifiedAt: started });
    await live.setMilestone(record.id, "started", started);
    await live.setMilestone(record.id, "detected", started + MIN);
    await live.setMilestone(record.id, "remediation_started", started + 2 * MIN);
    await live.setMilestone(record.id, "remediated", started + 4 * MIN);
    await live.setMilestone(record.id, "resolved", started + 30 * MIN);
    await live.updateIncident(record.id, { status: "resolved", automated: true });
    await live.close();
    const run = await runOpskit(["mttr", "--journal", journal, "--compare", "before:2026-05-01", "--until", "2026-07-01", "--format", "json"]);
    const report = JSON.parse(run.stdout);
    expect(report.overall.map((c: any) => [c.label, c.resolved])).toEqual([["before 2026-05-01", 2], ["from 2026-05-01", 1]]);
    expect(report.overall[0].phases.resolve.median).toBe(180 * MIN);
    expect(report.changes.resolve.median).toBeCloseTo((30 - 180) / 180, 9);
  });
});
