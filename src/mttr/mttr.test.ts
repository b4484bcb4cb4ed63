import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Journal, Milestone } from "../journal/index.ts";
import { openSqliteJournal } from "../journal/sqlite.ts";
import { computeMttr, planMttr } from "./mttr.ts";
import { renderMarkdown, renderTable } from "./text.ts";

// Every expected figure below is worked out by hand from the milestones, with
// linear interpolation between ranks: p at position p·(n−1) of the sorted values.

const MIN = 60_000;
const T0 = Date.parse("2026-11-01T00:00:00Z");
const NOW = Date.parse("2026-11-25T00:00:00Z");
let dir: string;
let journal: Journal;
let seq = 0;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-mttr-"));
  journal = openSqliteJournal(join(dir, "journal.db"));
});
afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An incident with milestones given in minutes after `start`. */
async function incident(labels: Record<string, string>, start: number, at: Partial<Record<Milestone, number>>, extra: { escalated?: boolean; attempts?: number; rule?: string } = {}): Promise<number> {
  const milestones = Object.fromEntries(Object.entries(at).map(([k, v]) => [k, start + v! * MIN]));
  const record = await journal.openIncident({ fingerprint: `fp-${++seq}`, title: labels.alertname ?? "Alert", source: "generic", labels, annotations: {}, ...(extra.rule ? { rule: extra.rule } : {}), milestones: { started: start, ...milestones }, lastNotifiedAt: start });
  for (const [name, value] of Object.entries(milestones)) await journal.setMilestone(record.id, name as Milestone, value);
  await journal.setMilestone(record.id, "started", start);
  await journal.updateIncident(record.id, {
    ...(at.resolved !== undefined ? { status: "resolved" as const, automated: at.remediated !== undefined } : {}),
    ...(extra.escalated ? { escalated: true } : {}),
    ...(extra.attempts ? { attempts: extra.attempts } : {}),
  });
  return record.id;
}

/** The five incidents of the worked example. */
async function example(): Promise<void> {
  await incident({ alertname: "ApiDown", service: "api", severity: "critical" }, T0, { detected: 1, acknowledged: 5, resolved: 30 });
  await incident({ alertname: "ApiDown", service: "api", severity: "critical" }, T0, { detected: 2, remediation_started: 3, remediated: 4, resolved: 10 }, { attempts: 1, rule: "restart-api" });
  await incident({ alertname: "ApiSlow", service: "api", severity: "warning" }, T0, { detected: 2, acknowledged: 2, remediation_started: 2.5, remediated: 3, resolved: 20 }, { attempts: 2, escalated: true, rule: "restart-api" });
  await incident({ alertname: "ApiDown", service: "api", severity: "critical" }, T0, { detected: 1 });
  await incident({ alertname: "DbDown", service: "db", severity: "critical" }, T0, { acknowledged: 10, resolved: 60 });
}

describe("opskit mttr statistics", () => {
  test("every phase's count, mean, median, p90, p99, min and max match the worked example; the open incident is apart", async () => {
    await example();
    const report = await computeMttr(journal, { now: NOW });
    const [all] = report.overall;
    expect(all).toMatchObject({ label: "all", incidents: 5, resolved: 4, open: 1, automated: 2, manual: 3, escalated: 1, attempts: 3 });
    // detect: 1, 2, 2, 1 (the db incident has no detected milestone) → 1, 1, 2, 2
    expect(all!.phases.detect).toEqual({ count: 4, mean: 1.5 * MIN, median: 1.5 * MIN, p90: 2 * MIN, p99: 2 * MIN, min: MIN, max: 2 * MIN });
    // isolate: ack 5−1 = 4, remediation 3−2 = 1, first of ack 2 and remediation 2.5 − 2 = 0, and the db
    // incident with no detected milestone from its start: 10 − 0 = 10 → 0, 1, 4, 10
    const isolate = all!.phases.isolate;
    expect(isolate.count).toBe(4);
    expect(isolate.median).toBe(2.5 * MIN);
    expect(isolate.p90).toBeCloseTo(8.2 * MIN, 6);
    expect(isolate.p99).toBeCloseTo(9.82 * MIN, 6);
    expect(isolate.mean).toBeCloseTo(3.75 * MIN, 6);
    expect([isolate.min, isolate.max]).toEqual([0, 10 * MIN]);
    // recover: manual from ack 30−5 = 25 and 60−10 = 50; automated from remediation 10−3 = 7 and 20−2.5 = 17.5
    expect(all!.phases.recover).toMatchObject({ count: 4, median: 21.25 * MIN, min: 7 * MIN, max: 50 * MIN, mean: 24.875 * MIN });
    expect(all!.phases.recover.p90).toBeCloseTo(42.5 * MIN, 6);
    // resolve: 30, 10, 20, 60; the open one is not a zero
    expect(all!.phases.resolve).toMatchObject({ count: 4, median: 25 * MIN, mean: 30 * MIN, min: 10 * MIN, max: 60 * MIN });
    expect(all!.phases.resolve.p90).toBeCloseTo(51 * MIN, 6);
    expect(all!.phases.resolve.p99).toBeCloseTo(59.1 * MIN, 6);
  });

  test("a single incident: every statistic is its own duration", async () => {
    await incident({ alertname: "X" }, T0, { detected: 3, resolved: 9 });
    const { resolve, detect, isolate } = (await computeMttr(journal, { now: NOW })).overall[0]!.phases;
    expect(resolve).toEqual({ count: 1, mean: 9 * MIN, median: 9 * MIN, p90: 9 * MIN, p99: 9 * MIN, min: 9 * MIN, max: 9 * MIN });
    expect(detect.median).toBe(3 * MIN);
    expect(isolate).toEqual({ count: 0 });
  });

  test("ties and an even count interpolate between the middle ranks", async () => {
    for (const minutes of [5, 5, 5, 15]) await incident({ alertname: "X" }, T0, { detected: 0, resolved: minutes });
    const resolve = (await computeMttr(journal, { now: NOW })).overall[0]!.phases.resolve;
    expect(resolve).toMatchObject({ count: 4, median: 5 * MIN, min: 5 * MIN, max: 15 * MIN, mean: 7.5 * MIN });
    // p90 at position 2.7: 5 + 0.7 × (15 − 5)
    expect(resolve.p90).toBeCloseTo(12 * MIN, 6);
  });

  test("only open incidents: no time to resolve, and the open count says why", async () => {
    await incident({ alertname: "X" }, T0, { detected: 1 });
    const report = await computeMttr(journal, { now: NOW });
    expect(report.overall[0]!.phases.resolve).toEqual({ count: 0 });
    expect(report.overall[0]!.open).toBe(1);
    expect(renderTable(report)).toContain("No resolved incidents in this range (1 still open).");
  });

  test("--compare automated: manual is the baseline, automated the current, with the relative change", async () => {
    await example();
    const report = await computeMttr(journal, { now: NOW, compare: "automated" });
    const [manual, automated] = report.overall;
    expect(manual).toMatchObject({ label: "manual", incidents: 3, resolved: 2, open: 1 });
    expect(automated).toMatchObject({ label: "automated", incidents: 2, resolved: 2, open: 0 });
    expect(manual!.phases.resolve.median).toBe(45 * MIN);
    expect(automated!.phases.resolve.median).toBe(15 * MIN);
    expect(report.changes!.resolve.median).toBeCloseTo(-2 / 3, 9);
    expect(renderTable(report)).toContain("Median time to resolve down 67% (45m → 15m), automated vs manual, over 2 and 2 resolved incidents (1 still open).");
  });

  test("--compare before:DATE splits by start time; the default range is all history", async () => {
    await incident({ alertname: "X" }, Date.parse("2026-06-10T00:00:00Z"), { detected: 1, resolved: 120 });
    await incident({ alertname: "X" }, Date.parse("2026-09-30T23:59:59.999Z"), { detected: 1, resolved: 60 });
    await incident({ alertname: "X" }, Date.parse("2026-10-01T00:00:00Z"), { detected: 1, resolved: 30 });
    const report = await computeMttr(journal, { now: NOW, compare: "before:2026-10-01" });
    const [before, after] = report.overall;
    expect(report.range.since).toBeUndefined();
    expect(before).toMatchObject({ label: "before 2026-10-01", incidents: 2 });
    expect(before!.phases.resolve.median).toBe(90 * MIN);
    expect(after).toMatchObject({ label: "from 2026-10-01", incidents: 1 });
    expect(report.changes!.resolve.median).toBeCloseTo(-2 / 3, 9);
  });

  test("--compare window:7d compares the last 7 days with the 7 before, and ignores older incidents", async () => {
    await incident({ alertname: "X" }, NOW - 20 * 86_400_000, { resolved: 500 });
    await incident({ alertname: "X" }, NOW - 10 * 86_400_000, { resolved: 40 });
    await incident({ alertname: "X" }, NOW - 8 * 86_400_000, { resolved: 60 });
    await incident({ alertname: "X" }, NOW - 2 * 86_400_000, { resolved: 25 });
    const report = await computeMttr(journal, { now: NOW, compare: "window:7d" });
    const [previous, current] = report.overall;
    expect(previous).toMatchObject({ label: "2026-11-11 to 2026-11-18", incidents: 2 });
    expect(previous!.phases.resolve.median).toBe(50 * MIN);
    expect(current).toMatchObject({ label: "2026-11-18 to 2026-11-25", incidents: 1 });
    expect(report.changes!.resolve.median).toBeCloseTo(-0.5, 9);
  });

  test("--by groups by a column or a label; overall percentiles come from all incidents, not from the groups", async () => {
    await example();
    const bySeverity = await computeMttr(journal, { now: NOW, by: "severity" });
    expect(bySeverity.groups.map((g) => [g.group, g.cohorts[0]!.incidents])).toEqual([["critical", 4], ["warning", 1]]);
    expect(bySeverity.overall[0]!.phases.resolve.median).toBe(25 * MIN);
    const byService = await computeMttr(journal, { now: NOW, by: "label:service", compare: "automated" });
    const api = byService.groups.find((g) => g.group === "api")!;
    expect(api.cohorts.map((c) => c.incidents)).toEqual([2, 2]);
    expect(api.changes!.resolve.median).toBeCloseTo((15 - 30) / 30, 9);
    const db = byService.groups.find((g) => g.group === "db")!;
    expect(db.cohorts[1]!.phases.resolve).toEqual({ count: 0 });
    expect(db.changes!.resolve).toEqual({});
  });

  test("a label with no value groups as (none); an odd label name is bound, not interpolated", async () => {
    await incident({ alertname: "X", team: "core" }, T0, { resolved: 5 });
    await incident({ alertname: "X" }, T0, { resolved: 7 });
    const report = await computeMttr(journal, { now: NOW, by: "label:team" });
    expect(report.groups.map((g) => g.group).sort()).toEqual(["(none)", "core"]);
    expect(() => planMttr({ by: "label:x') OR 1=1 --" })).toThrow(/not a grouping/);
  });

  test("weekly trend and distribution cover resolved incidents by week of start", async () => {
    await example();
    await incident({ alertname: "X" }, Date.parse("2026-11-10T12:00:00Z"), { resolved: 3 * 60 });
    const report = await computeMttr(journal, { now: NOW });
    // 2026-11-01 is a Sunday: its week starts Monday 2026-10-26.
    expect(report.weekly).toEqual([
      { week: "2026-10-26", count: 4, median: 25 * MIN, p90: 51 * MIN },
      { week: "2026-11-09", count: 1, median: 180 * MIN, p90: 180 * MIN },
    ]);
    // 10 → ≤15m; 20 and 30 → ≤30m; 60 → ≤1h; 180 → ≤4h
    expect(report.distribution.map((b) => b.count)).toEqual([0, 1, 2, 1, 0, 1, 0, 0, 0]);
    expect(report.distribution.at(-1)).toEqual({ le: null, count: 0 });
  });

  test("by service (read service by service from the index) and by the service label (read row by row) give the same report", async () => {
    await example();
    await incident({ alertname: "X", service: "web" }, Date.parse("2026-11-10T12:00:00Z"), { detected: 2, acknowledged: 7, resolved: 3 * 60 });
    await incident({ alertname: "Y" }, Date.parse("2026-11-11T12:00:00Z"), { detected: 1, resolved: 30 });
    for (const options of [{}, { compare: "automated" }, { compare: "window:14d" }, { compare: "before:2026-11-05" }]) {
      const byColumn = await computeMttr(journal, { now: NOW, by: "service", ...options });
      const byLabel = await computeMttr(journal, { now: NOW, by: "label:service", ...options });
      expect(byColumn.groups.map((g) => g.group)).toEqual(["api", "db", "(none)", "web"]);
      expect({ ...byColumn, by: "label:service" } as typeof byLabel).toEqual(byLabel);
    }
  });

  test("bad options are usage errors that say what to write", async () => {
    expect(() => planMttr({ compare: "manual" })).toThrow(/not a comparison/);
    expect(() => planMttr({ since: "yesterday" })).toThrow(/not a date/);
    expect(() => planMttr({ compare: "window:30d", since: "7d" })).toThrow(/--since does not apply/);
    expect(() => planMttr({ compare: "before:2026-10-01", since: "2026-10-02", now: NOW })).toThrow(/nothing to compare/);
  });

  test("markdown carries the same figures and the definitions", async () => {
    await example();
    const md = renderMarkdown(await computeMttr(journal, { now: NOW, compare: "automated" }));
    expect(md).toContain("| time to resolve | 2 | 45m | ");
    expect(md).toContain("down 67%");
    expect(md).toContain("time to detect = detected − started");
  });
});
