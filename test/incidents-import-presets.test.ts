// opskit incidents import with --preset pagerduty|opsgenie|incident-io, and
// without one (columns recognised by name), through the built executable;
// then opskit mttr over the imported history. The fixtures in
// test/fixtures/imports are written as the tools export: PagerDuty's
// created_on with the account's offset and durations in seconds, Opsgenie's
// epoch milliseconds and AckTime/CloseTime after them, incident.io's
// "2026-03-10 14:02:11 UTC".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runBuilt } from "./harness/binary.ts";

const fixtures = resolve(import.meta.dir, "fixtures/imports");
const MIN = 60_000;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-import-presets-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = () => ({ OPSKIT_JOURNAL: "", XDG_STATE_HOME: join(dir, "state") });
const importInto = (journal: string, ...args: string[]) => runBuilt(["incidents", "import", ...args, "--journal", journal], { cwd: dir, env: env() });

async function mttr(journal: string): Promise<Record<string, any>> {
  const run = await runBuilt(["mttr", "--journal", journal, "--since", "2026-03-01", "--until", "2026-04-01", "--format", "json"], { cwd: dir, env: env() });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout);
}

describe("opskit incidents import --preset", () => {
  test("pagerduty: offsets as written, acknowledged from seconds_to_first_ack, escalation_count as escalated; the report names each column", async () => {
    const journal = join(dir, "pagerduty.db");
    const run = await importInto(journal, join(fixtures, "pagerduty.csv"), "--preset", "pagerduty");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("imported 4 incidents from");
    expect(run.stdout).toMatch(/^ {2}started +created_on$/m);
    expect(run.stdout).toMatch(/^ {2}acknowledged +created_on \+ seconds_to_first_ack$/m);
    expect(run.stdout).toMatch(/^ {2}label team +team_name$/m);
    const json = JSON.parse((await importInto(journal, join(fixtures, "pagerduty.csv"), "--preset", "pagerduty", "--json")).stdout);
    expect(json).toMatchObject({ inserted: 0, updated: 4, skipped: [] });
    expect(json.columns).toEqual({
      id: "incident_number", title: "description", service: "service_name", severity: "urgency", started: "created_on",
      acknowledged: "created_on + seconds_to_first_ack", resolved: "resolved_on", escalated: "escalation_count",
    });
    expect(json.labels).toEqual({ team: "team_name", escalation_policy: "escalation_policy_name" });
    const shown = JSON.parse((await runBuilt(["incidents", "show", "2", "--json", "--journal", journal], { cwd: dir, env: env() })).stdout);
    // 2026-03-05T23:50:00-08:00, before the switch to PDT; 600 s to the first ack.
    expect(shown.incident.milestones).toMatchObject({ started: Date.parse("2026-03-06T07:50:00Z"), acknowledged: Date.parse("2026-03-06T08:00:00Z"), resolved: Date.parse("2026-03-06T09:50:00Z") });
    expect(shown.incident).toMatchObject({ title: "[#1202] Disk full on db-3", escalated: true, labels: { service: "database", severity: "high", team: "storage" } });
    const report = await mttr(journal);
    expect(report.overall[0]).toMatchObject({ incidents: 4, resolved: 3, open: 1 });
    // Resolve: 30m, 2h, 20m (the third after the change to -07:00). Acknowledge: 2m, 10m, 1m.
    expect(report.overall[0].phases.resolve).toMatchObject({ count: 3, median: 30 * MIN, min: 20 * MIN, max: 120 * MIN });
    expect(report.overall[0].phases.isolate).toMatchObject({ count: 3, median: 2 * MIN });
  });

  test("opsgenie: CreatedAt in epoch milliseconds, AckTime and CloseTime after it; an open alert stays open", async () => {
    const journal = join(dir, "opsgenie.db");
    const run = await importInto(journal, join(fixtures, "opsgenie.csv"), "--preset", "opsgenie", "--json");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ inserted: 3, skipped: [] });
    expect(result.columns).toEqual({ id: "TinyId", title: "Message", service: "Entity", severity: "Priority", started: "CreatedAt", acknowledged: "CreatedAt + AckTime", resolved: "CreatedAt + CloseTime" });
    const report = await mttr(journal);
    expect(report.overall[0]).toMatchObject({ incidents: 3, resolved: 2, open: 1 });
    expect(report.overall[0].phases.resolve).toMatchObject({ count: 2, median: 30 * MIN, min: 15 * MIN, max: 45 * MIN });
    expect(report.overall[0].phases.isolate).toMatchObject({ count: 2, median: 2 * MIN });
  });

  test("incident-io: \"2026-03-10 14:02:11 UTC\" times; Reported at is the start, so nothing claims a detection time", async () => {
    const journal = join(dir, "incident-io.db");
    const run = await importInto(journal, join(fixtures, "incident-io.csv"), "--preset", "incident-io", "--json");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.columns).toEqual({ id: "Reference", title: "Name", service: "Affected services", severity: "Severity", started: "Reported at", acknowledged: "Accepted at", remediation_started: "Fixing at", resolved: "Resolved at" });
    const report = await mttr(journal);
    expect(report.overall[0]).toMatchObject({ incidents: 3, resolved: 2, open: 1 });
    expect(report.overall[0].phases.resolve).toMatchObject({ count: 2, median: 50 * MIN });
    expect(report.overall[0].phases.detect.count).toBe(0);
    const listed = await runBuilt(["incidents", "list", "--status", "open", "--journal", journal], { cwd: dir, env: env() });
    expect(listed.stdout).toContain("Login page timeouts");
  });

  test("an unknown preset is a usage error that lists the presets", async () => {
    const run = await importInto(join(dir, "none.db"), join(fixtures, "opsgenie.csv"), "--preset", "victorops");
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('--preset "victorops" is not one of pagerduty, opsgenie, incident-io');
  });
});

describe("opskit incidents import without a preset", () => {
  test("columns are recognised by name whatever their case and separators, and the report says which fed each field", async () => {
    const journal = join(dir, "recognised.db");
    const run = await importInto(journal, join(fixtures, "recognised.csv"), "--label", "team=Team");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n").slice(0, 9)).toEqual([
      "columns:",
      "  id                   Incident ID",
      "  title                Summary",
      "  service              Service Name",
      "  severity             Priority",
      "  started              createdAt",
      "  acknowledged         acknowledged_on",
      "  resolved             Closed At",
      "  label team           Team",
    ]);
    const report = await mttr(journal);
    expect(report.overall[0].phases.resolve).toMatchObject({ count: 3, median: 30 * MIN });
  });

  test("two columns that could be the start are an error that lists them and says how to choose; --map chooses", async () => {
    const file = join(dir, "ambiguous.csv");
    writeFileSync(file, "id,created_at,opened_at,resolved_at\nX1,2026-03-01T10:00:00Z,2026-03-01T10:05:00Z,2026-03-01T11:00:00Z\n");
    const journal = join(dir, "ambiguous.db");
    const failed = await importInto(journal, file);
    expect(failed.code).toBe(65);
    expect(failed.stderr).toContain('field started could come from 2 columns: "created_at", "opened_at"');
    expect(failed.stderr).toContain('--map started="created_at"');
    const chosen = await importInto(journal, file, "--map", "started=opened_at", "--json");
    expect(chosen.code).toBe(0);
    expect(JSON.parse(chosen.stdout).columns).toEqual({ id: "id", started: "opened_at", resolved: "resolved_at" });
    const missing = join(dir, "missing.csv");
    writeFileSync(missing, "ref,when\nX1,2026-03-01T10:00:00Z\n");
    const none = await importInto(journal, missing);
    expect(none.code).toBe(65);
    expect(none.stderr).toContain("has no column for field started, which is required");
    expect(none.stderr).toContain("--map started=COLUMN");
  });
});
