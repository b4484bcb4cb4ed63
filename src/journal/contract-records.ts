import { describe, expect, test } from "bun:test";
import type { CurrentJournal } from "./contract.ts";
import type { ImportedIncident, Journal, Milestone, MttrPhase, MttrResult, ShadowComparisonRecord } from "./types.ts";

const minute = 60_000;
/** Monday 5 January 2026, 00:00 UTC: a week's start. */
const monday = Date.UTC(2026, 0, 5);

function imported(externalId: string, overrides: Partial<ImportedIncident> = {}): ImportedIncident {
  return {
    origin: "pagerduty", externalId, title: "Checkout latency", labels: { service: "checkout", severity: "critical", team: "payments" },
    started: monday, acknowledged: monday + 3 * minute, resolved: monday + 40 * minute, ...overrides,
  };
}

function comparison(overrides: Partial<ShadowComparisonRecord> = {}): Omit<ShadowComparisonRecord, "id"> {
  return {
    name: "disk-report", at: monday, source: "cli", legacyExit: 0, legacyDurationMs: 12, candidateExit: 0, candidateDurationMs: 30,
    candidateFailed: false, equal: true, differs: [], diff: "", ...overrides,
  };
}

/** An incident with these milestones (minutes after its start), resolved when `resolved` is among them. */
async function incident(journal: Journal, n: number, started: number, after: Partial<Record<Milestone, number>>): Promise<void> {
  const milestones: Partial<Record<Milestone, number>> = { started };
  for (const [name, minutes] of Object.entries(after)) milestones[name as Milestone] = started + minutes * minute;
  const { id } = await journal.openIncident({ fingerprint: `fp-${n}`, title: "Down", source: "generic", labels: { service: "web" }, annotations: {}, milestones, lastNotifiedAt: started });
  if (after.resolved !== undefined) await journal.updateIncident(id, { status: "resolved" });
}

const phase = (result: MttrResult, name: MttrPhase, cohort = 0) => result.phases.find((p) => p.phase === name && p.cohort === cohort);

/** Imported history, MTTR analytics and shadow comparisons. */
export function describeRecordsContract(journal: CurrentJournal): void {
  describe("imported history", () => {
    test("an imported incident reads back with its milestones, its origin and its id there", async () => {
      const j = journal();
      expect(await j.importIncidents([imported("P1", { detected: monday + minute, remediationStarted: monday + 10 * minute, escalated: true })])).toEqual({ inserted: 1, updated: 0 });
      const [row] = await j.listIncidents();
      expect(row).toMatchObject({ fingerprint: "import:pagerduty:P1", source: "import", status: "resolved", title: "Checkout latency", origin: "pagerduty", externalId: "P1", escalated: true, automated: false, resolution: "imported" });
      expect(row!.labels).toEqual({ service: "checkout", severity: "critical", team: "payments" });
      expect(row!.milestones).toEqual({ started: monday, detected: monday + minute, remediation_started: monday + 10 * minute, resolved: monday + 40 * minute, acknowledged: monday + 3 * minute });
    });

    test("importing the same rows again inserts nothing and updates each row in place", async () => {
      const j = journal();
      const batch = Array.from({ length: 50 }, (_, i) => imported(`P${i}`, { started: monday + i * minute, resolved: i % 5 === 0 ? undefined : monday + (i + 30) * minute }));
      expect(await j.importIncidents(batch)).toEqual({ inserted: 50, updated: 0 });
      const first = await j.listIncidents();
      expect(await j.importIncidents(batch)).toEqual({ inserted: 0, updated: 50 });
      expect(await j.listIncidents()).toEqual(first);
      expect(await j.countIncidents({ status: "open" })).toBe(10);

      const changed = await j.importIncidents([imported("P1", { title: "Checkout latency above SLO", resolved: monday + 90 * minute }), imported("P50")]);
      expect(changed).toEqual({ inserted: 1, updated: 1 });
      const p1 = (await j.listIncidents({ limit: 100 })).filter((i) => i.externalId === "P1");
      expect(p1).toHaveLength(1);
      expect(p1[0]).toMatchObject({ id: first.find((i) => i.externalId === "P1")!.id, title: "Checkout latency above SLO", milestones: { resolved: monday + 90 * minute } });
    });

    test("one failing row imports nothing, the rows before it included, and the journal goes on", async () => {
      const j = journal();
      await j.importIncidents([imported("P1")]);
      const broken = { ...imported("P3"), title: null } as unknown as ImportedIncident;
      await expect(j.importIncidents([imported("P1", { title: "renamed" }), imported("P2"), broken, imported("P4")])).rejects.toThrow();
      expect((await j.listIncidents()).map((i) => [i.externalId, i.title])).toEqual([["P1", "Checkout latency"]]);
      expect(await j.importIncidents([imported("P2")])).toEqual({ inserted: 1, updated: 0 });
      expect(await j.importIncidents([])).toEqual({ inserted: 0, updated: 0 });
    });

    test("open imported incidents coexist with each other and with the server's own open incidents", async () => {
      const j = journal();
      await j.openIncident({ fingerprint: "fp-live", title: "Checkout latency", source: "alertmanager", labels: {}, annotations: {}, milestones: { started: monday }, lastNotifiedAt: monday });
      const open = { resolved: undefined };
      expect(await j.importIncidents([imported("P1", open), imported("P2", open), { ...imported("P1", open), origin: "opsgenie" }])).toEqual({ inserted: 3, updated: 0 });
      expect(await j.countIncidents({ status: "open" })).toBe(4);
      expect(await j.findOpenIncident("import:pagerduty:P2")).toMatchObject({ externalId: "P2", origin: "pagerduty" });
      expect(await j.findOpenIncident("import:opsgenie:P1")).toMatchObject({ externalId: "P1", origin: "opsgenie" });
    });
  });

  describe("MTTR analytics", () => {
    /** Resolved in 10, 20 and 60 minutes, one still open; detected after 1 to 4 minutes; the first remediated by a rule. */
    async function fourIncidents(j: Journal): Promise<void> {
      await incident(j, 1, monday + 1 * 3_600_000, { detected: 1, remediation_started: 5, remediated: 8, resolved: 10 });
      await incident(j, 2, monday + 2 * 3_600_000, { detected: 2, resolved: 20 });
      await incident(j, 3, monday + 3 * 3_600_000, { detected: 3, resolved: 60 });
      await incident(j, 4, monday + 4 * 3_600_000, { detected: 4 });
    }

    test("phases by hand: count, mean, min, max and percentiles interpolated between ranks", async () => {
      const j = journal();
      await fourIncidents(j);
      const result = await j.mttr({});
      expect(phase(result, "resolve")).toEqual({ group: null, cohort: 0, phase: "resolve", count: 3, mean: 30 * minute, min: 10 * minute, max: 60 * minute, median: 20 * minute, p90: 52 * minute, p99: 59.2 * minute });
      expect(phase(result, "detect")).toEqual({ group: null, cohort: 0, phase: "detect", count: 4, mean: 2.5 * minute, min: minute, max: 4 * minute, median: 2.5 * minute, p90: 3.7 * minute, p99: 3.97 * minute });
      // Isolation from detection to the remediation's start; recovery from there to the resolution.
      expect(phase(result, "isolate")).toMatchObject({ count: 1, mean: 4 * minute });
      expect(phase(result, "recover")).toMatchObject({ count: 1, mean: 5 * minute });
      expect(result.counts).toEqual([{ group: null, cohort: 0, incidents: 4, resolved: 3, open: 1, automated: 1, escalated: 0, attempts: 0 }]);
      expect(result.weekly).toEqual([]);
    });

    test("split, grouped, bounded in time, and with trends", async () => {
      const j = journal();
      await fourIncidents(j);
      const split = await j.mttr({ split: { kind: "automated" } });
      expect(phase(split, "resolve", 1)).toMatchObject({ count: 1, median: 10 * minute });
      expect(phase(split, "resolve", 0)).toMatchObject({ count: 2, median: 40 * minute, p90: 56 * minute });
      expect((await j.mttr({ groupBy: { label: "service" } })).counts).toEqual([expect.objectContaining({ group: "web", incidents: 4 })]);
      expect(phase(await j.mttr({ since: monday + 2 * 3_600_000, until: monday + 4 * 3_600_000 }), "resolve")).toMatchObject({ count: 2, min: 20 * minute, max: 60 * minute });
      const trends = await j.mttr({ trends: true });
      expect(trends.weekly).toEqual([{ weekStart: monday, count: 3, median: 20 * minute, p90: 52 * minute }]);
      expect(trends.distribution.map((b) => b.count)).toEqual([0, 1, 1, 1, 0, 0, 0, 0, 0]);
      expect(trends.distribution.at(-1)!.le).toBeNull();
    });
  });

  describe("shadow comparisons", () => {
    test("records comparisons and reads them back newest first, mismatches alone on request", async () => {
      const j = journal();
      const first = await j.recordShadowComparison(comparison());
      const second = await j.recordShadowComparison(
        comparison({ at: monday + 1, source: "workflow", runId: "run-1", target: "web-1", equal: false, differs: ["stdout", "exit"], candidateExit: 2, diff: "--- legacy\n+++ candidate", candidateError: "x" }),
      );
      expect(second).toBeGreaterThan(first);
      const all = await j.shadowComparisons("disk-report");
      expect(all.map((c) => c.id)).toEqual([second, first]);
      expect(all[0]).toEqual({ ...comparison(), id: second, at: monday + 1, source: "workflow", runId: "run-1", target: "web-1", equal: false, differs: ["stdout", "exit"], candidateExit: 2, diff: "--- legacy\n+++ candidate", candidateError: "x" });
      expect(all[1]).toEqual({ ...comparison(), id: first });
      expect((await j.shadowComparisons("disk-report", { mismatchesOnly: true })).map((c) => c.id)).toEqual([second]);
      expect((await j.shadowComparisons("disk-report", { limit: 1 })).map((c) => c.id)).toEqual([second]);
      expect(await j.shadowComparisons("other")).toEqual([]);
    });

    test("stats count agreement, mismatches and failures per name; the legacy's failures count for neither side", async () => {
      const j = journal();
      await j.recordShadowComparison(comparison());
      await j.recordShadowComparison(comparison({ equal: false, differs: ["stdout"] }));
      await j.recordShadowComparison(comparison({ equal: false, candidateFailed: true, candidateExit: null, candidateError: "timed out", source: "workflow" }));
      await j.recordShadowComparison(comparison({ equal: false, candidateFailed: true, legacyExit: null, legacyError: "not found" }));
      await j.recordShadowComparison(comparison({ name: "inventory", at: monday + 5 }));
      expect(await j.shadowStats()).toEqual([
        { name: "disk-report", comparisons: 4, agreed: 1, mismatched: 2, legacyFailures: 1, candidateFailures: 1, firstAt: monday, lastAt: monday },
        { name: "inventory", comparisons: 1, agreed: 1, mismatched: 0, legacyFailures: 0, candidateFailures: 0, firstAt: monday + 5, lastAt: monday + 5 },
      ]);
      expect(await j.shadowStats({ name: "disk-report", source: "workflow" })).toMatchObject([{ comparisons: 1, candidateFailures: 1 }]);
      expect(await j.shadowStats({ name: "nobody" })).toEqual([]);
    });

    test("the first fallback wins; a reset clears it and starts the window after the latest comparison", async () => {
      const j = journal();
      await j.recordShadowComparison(comparison({ equal: false, differs: ["stdout"] }));
      const last = await j.recordShadowComparison(comparison({ equal: false, differs: ["stdout"] }));
      expect(await j.getShadowState("disk-report")).toBeUndefined();
      expect(await j.fallBackShadow("disk-report", monday + 10, "mismatch rate 100%")).toBe(true);
      expect(await Promise.all([j.fallBackShadow("disk-report", monday + 20, "again"), j.fallBackShadow("disk-report", monday + 21, "and again")])).toEqual([false, false]);
      expect(await j.getShadowState("disk-report")).toEqual({ name: "disk-report", fallenBackAt: monday + 10, reason: "mismatch rate 100%", windowStart: 0 });

      const before = await j.resetShadow("disk-report", monday + 30);
      expect(before?.fallenBackAt).toBe(monday + 10);
      expect(await j.getShadowState("disk-report")).toEqual({ name: "disk-report", resetAt: monday + 30, windowStart: last });
      expect(await j.shadowStats({ name: "disk-report", afterId: last })).toEqual([]);
      const next = await j.recordShadowComparison(comparison());
      expect(await j.shadowStats({ name: "disk-report", afterId: last })).toMatchObject([{ comparisons: 1, agreed: 1 }]);
      expect((await j.listShadowStates()).map((s) => s.name)).toEqual(["disk-report"]);
      // Resetting a name never seen records a window all the same.
      expect(await j.resetShadow("new", monday)).toBeUndefined();
      expect(await j.getShadowState("new")).toMatchObject({ windowStart: next });
    });
  });
}
