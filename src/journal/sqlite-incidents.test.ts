import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { isOpsError } from "../errors.ts";
import { openSqliteJournal } from "./sqlite.ts";
import { useFreshJournal } from "./testing.ts";
import type { AttemptRecord, IncidentRecord, Journal } from "./types.ts";

let location: string;
let journal: Journal;
useFreshJournal("opskit-incidents-", (fresh, file) => {
  journal = fresh;
  location = file;
});

const t0 = 1764072000123;

function open(fingerprint: string, overrides: Partial<Parameters<Journal["openIncident"]>[0]> = {}): IncidentRecord {
  return journal.openIncident({
    fingerprint,
    title: "HighErrorRate",
    source: "alertmanager",
    labels: { alertname: "HighErrorRate", service: "checkout", severity: "critical" },
    annotations: { summary: "5xx above 5%" },
    rule: "restart-checkout",
    milestones: { started: t0, detected: t0 + 50 },
    lastNotifiedAt: t0 + 50,
    ...overrides,
  });
}

/** The columns copied out of the labels for SQL reports, read the way a report would. */
function reportColumns(id: number): Record<string, unknown> | null {
  const db = new Database(location, { readonly: true, strict: true });
  try {
    return db.query("SELECT service, severity, alertname FROM incidents WHERE id = $id").get({ id }) as Record<string, unknown> | null;
  } finally {
    db.close();
  }
}

function attempt(incidentId: number, n: number, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  return { incidentId, attempt: n, rule: "restart-checkout", fingerprint: "fp-1", status: "queued", createdAt: t0 + n, ...overrides };
}

describe("notifications", () => {
  test("a batch is accepted in one call and its ids come back in order", () => {
    const ids = journal.acceptNotifications([
      { source: "alertmanager", receivedAt: t0, body: '{"n":1}' },
      { source: "generic", receivedAt: t0 + 1, body: '{"n":2}' },
      { source: "check", receivedAt: t0 + 2, body: '{"n":3}' },
    ]);
    expect(ids).toHaveLength(3);
    expect(ids[1]).toBe(ids[0]! + 1);
    expect(ids[2]).toBe(ids[0]! + 2);
    const pending = journal.pendingNotifications(10);
    expect(pending.map((n) => n.id)).toEqual(ids);
    expect(pending[1]).toEqual({ id: ids[1]!, source: "generic", receivedAt: t0 + 1, body: '{"n":2}', processed: false });
  });

  test("processed notifications leave the pending list but stay counted", () => {
    const ids = journal.acceptNotifications([1, 2, 3, 4].map((n) => ({ source: "generic" as const, receivedAt: t0 + n, body: String(n) })));
    journal.markNotificationsProcessed([ids[0]!, ids[2]!]);
    expect(journal.pendingNotifications(10).map((n) => n.id)).toEqual([ids[1]!, ids[3]!]);
    expect(journal.pendingNotifications(1).map((n) => n.id)).toEqual([ids[1]!]);
    expect(journal.countNotifications()).toBe(4);
    journal.markNotificationsProcessed([]);
    expect(journal.pendingNotifications(10)).toHaveLength(2);
  });

  test("10,000 notifications accepted in batches of 100 all come back pending with distinct ids", () => {
    const all: number[] = [];
    for (let b = 0; b < 100; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ source: "alertmanager" as const, receivedAt: t0 + b * 100 + i, body: `{"alert":${b * 100 + i}}` }));
      all.push(...journal.acceptNotifications(batch));
    }
    expect(new Set(all).size).toBe(10_000);
    const pending = journal.pendingNotifications(20_000);
    expect(pending).toHaveLength(10_000);
    expect(pending.map((n) => n.id)).toEqual(all);
    expect(pending.every((n) => !n.processed)).toBe(true);
    expect(journal.countNotifications()).toBe(10_000);
  });

  test("a batch that fails part way commits none of it", () => {
    const bad = [{ source: "generic" as const, receivedAt: t0, body: "ok" }, { source: "generic" as const, receivedAt: t0, body: null as unknown as string }];
    expect(() => journal.acceptNotifications(bad)).toThrow();
    expect(journal.countNotifications()).toBe(0);
  });
});

describe("alert states", () => {
  test("the last word about a fingerprint round-trips and is replaced by the next", () => {
    expect(journal.getAlertState("fp-1")).toBeUndefined();
    journal.putAlertState({ fingerprint: "fp-1", status: "firing", startsAt: t0, updatedAt: t0 + 1 });
    expect(journal.getAlertState("fp-1")).toEqual({ fingerprint: "fp-1", status: "firing", startsAt: t0, updatedAt: t0 + 1 });
    journal.putAlertState({ fingerprint: "fp-1", status: "resolved", startsAt: t0, endsAt: t0 + 9, incidentId: 7, updatedAt: t0 + 10 });
    expect(journal.getAlertState("fp-1")).toEqual({ fingerprint: "fp-1", status: "resolved", startsAt: t0, endsAt: t0 + 9, incidentId: 7, updatedAt: t0 + 10 });
  });
});

describe("incidents", () => {
  test("an opened incident reads back in the record's shape, optional fields omitted", () => {
    const incident = open("fp-1", { rule: undefined });
    expect(incident).toEqual({
      id: incident.id,
      fingerprint: "fp-1",
      status: "open",
      title: "HighErrorRate",
      source: "alertmanager",
      labels: { alertname: "HighErrorRate", service: "checkout", severity: "critical" },
      annotations: { summary: "5xx above 5%" },
      milestones: { started: t0, detected: t0 + 50 },
      attempts: 0,
      escalated: false,
      automated: false,
      notifications: 1,
      lastNotifiedAt: t0 + 50,
    });
    expect(journal.getIncident(incident.id)).toEqual(incident);
    expect(journal.findOpenIncident("fp-1")).toEqual(incident);
    expect(journal.getIncident(incident.id + 1)).toBeUndefined();
  });

  test("a fingerprint has at most one open incident; a new one opens after it resolves", () => {
    const first = open("fp-1");
    expect(() => open("fp-1")).toThrow(/UNIQUE/);
    journal.updateIncident(first.id, { status: "resolved", resolution: "alert resolved" });
    expect(journal.findOpenIncident("fp-1")).toBeUndefined();
    const second = open("fp-1");
    expect(second.id).toBeGreaterThan(first.id);
    expect(journal.findOpenIncident("fp-1")?.id).toBe(second.id);
  });

  test("the first occurrence of a milestone wins and keeps millisecond precision", () => {
    const { id } = open("fp-1", { milestones: { started: t0 } });
    expect(journal.setMilestone(id, "remediated", t0 + 60_001)).toBe(true);
    expect(journal.setMilestone(id, "remediated", t0 + 90_000)).toBe(false);
    expect(journal.setMilestone(id, "started", t0 - 5)).toBe(false);
    expect(journal.setMilestone(id + 1, "verified", t0)).toBe(false);
    expect(journal.getIncident(id)?.milestones).toEqual({ started: 1764072000123, remediated: 1764072060124 });
  });

  test("an unknown milestone name is refused rather than reaching the SQL", () => {
    const { id } = open("fp-1");
    expect(() => journal.setMilestone(id, "started_at = 0; --" as never, t0)).toThrow(/unknown milestone/);
  });

  test("an update changes only the fields it names and refreshes the columns copied from labels", () => {
    const { id } = open("fp-1");
    journal.updateIncident(id, { attempts: 2, escalated: true, notifications: 40, lastNotifiedAt: t0 + 999 });
    const updated = journal.getIncident(id)!;
    expect(updated).toMatchObject({ attempts: 2, escalated: true, automated: false, notifications: 40, lastNotifiedAt: t0 + 999, rule: "restart-checkout" });
    expect(updated.resolution).toBeUndefined();
    expect(reportColumns(id)).toEqual({ service: "checkout", severity: "critical", alertname: "HighErrorRate" });
    journal.updateIncident(id, { labels: { alertname: "Latency", service: "payments" } });
    journal.updateIncident(id, {});
    expect(journal.getIncident(id)?.labels).toEqual({ alertname: "Latency", service: "payments" });
    expect(reportColumns(id)).toEqual({ service: "payments", severity: null, alertname: "Latency" });
  });

  test("listing is newest first, filters by status, fingerprint and start time, and counts with the same filter", () => {
    const a = open("fp-a", { milestones: { started: t0 } });
    const b = open("fp-b", { milestones: { started: t0 + 1000 } });
    const c = open("fp-c", { milestones: { started: t0 + 2000 } });
    journal.updateIncident(a.id, { status: "resolved" });
    expect(journal.listIncidents().map((i) => i.id)).toEqual([c.id, b.id, a.id]);
    expect(journal.listIncidents({ limit: 2 }).map((i) => i.id)).toEqual([c.id, b.id]);
    expect(journal.listIncidents({ status: "open" }).map((i) => i.id)).toEqual([c.id, b.id]);
    expect(journal.listIncidents({ fingerprint: "fp-a" }).map((i) => i.id)).toEqual([a.id]);
    expect(journal.listIncidents({ since: t0 + 1000 }).map((i) => i.id)).toEqual([c.id, b.id]);
    expect(journal.countIncidents()).toBe(3);
    expect(journal.countIncidents({ status: "resolved" })).toBe(1);
    expect(journal.countIncidents({ status: "open", since: t0 + 1500, limit: 1 })).toBe(1);
  });

  test("listing defaults to the newest 100", () => {
    for (let i = 0; i < 105; i++) open(`fp-${i}`);
    const listed = journal.listIncidents();
    expect(listed).toHaveLength(100);
    expect(listed[0]!.fingerprint).toBe("fp-104");
    expect(journal.countIncidents()).toBe(105);
  });
});

describe("incident timeline", () => {
  test("consecutive identical lines fold into one with a count and the latest time", () => {
    const { id } = open("fp-1");
    journal.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing", data: { n: 1 } });
    for (let i = 1; i < 10_000; i++) journal.addIncidentEvent(id, { at: t0 + i, kind: "alert", message: "firing" });
    journal.addIncidentEvent(id, { at: t0 + 20_000, kind: "gate", message: "cooldown: 4m left" });
    journal.addIncidentEvent(id, { at: t0 + 20_001, kind: "alert", message: "firing" });
    journal.addIncidentEvent(id, { at: t0 + 20_002, kind: "note", message: "firing" });
    expect(journal.incidentEvents(id)).toEqual([
      { incidentId: id, seq: 1, at: t0 + 9_999, kind: "alert", message: "firing", data: { n: 1 }, count: 10_000 },
      { incidentId: id, seq: 2, at: t0 + 20_000, kind: "gate", message: "cooldown: 4m left", data: {}, count: 1 },
      { incidentId: id, seq: 3, at: t0 + 20_001, kind: "alert", message: "firing", data: {}, count: 1 },
      { incidentId: id, seq: 4, at: t0 + 20_002, kind: "note", message: "firing", data: {}, count: 1 },
    ]);
  });

  test("each incident numbers its own timeline from 1", () => {
    const a = open("fp-a");
    const b = open("fp-b");
    journal.addIncidentEvent(a.id, { at: t0, kind: "alert", message: "one" });
    journal.addIncidentEvent(a.id, { at: t0, kind: "alert", message: "two" });
    journal.addIncidentEvent(b.id, { at: t0, kind: "alert", message: "one" });
    expect(journal.incidentEvents(a.id).map((e) => e.seq)).toEqual([1, 2]);
    expect(journal.incidentEvents(b.id).map((e) => e.seq)).toEqual([1]);
  });

  test("a line added in a rolled-back transaction leaves no gap or stale fold behind", () => {
    const { id } = open("fp-1");
    journal.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing" });
    expect(() =>
      journal.transaction(() => {
        journal.addIncidentEvent(id, { at: t0 + 1, kind: "run", message: "started" });
        throw new Error("abort");
      }),
    ).toThrow("abort");
    journal.addIncidentEvent(id, { at: t0 + 2, kind: "note", message: "retrying" });
    journal.addIncidentEvent(id, { at: t0 + 3, kind: "note", message: "retrying" });
    expect(journal.incidentEvents(id).map((e) => [e.seq, e.kind, e.count])).toEqual([[1, "alert", 1], [2, "note", 2]]);
  });

  test("a line another process appends to the same timeline is neither overwritten nor folded into", () => {
    const { id } = open("fp-1");
    const other = openSqliteJournal(location);
    try {
      journal.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing" });
      other.addIncidentEvent(id, { at: t0 + 1, kind: "note", message: "looking" });
      journal.addIncidentEvent(id, { at: t0 + 2, kind: "alert", message: "firing" });
      other.addIncidentEvent(id, { at: t0 + 3, kind: "note", message: "restarted by hand" });
      journal.addIncidentEvent(id, { at: t0 + 4, kind: "gate", message: "cooldown" });
    } finally {
      other.close();
    }
    expect(journal.incidentEvents(id).map((e) => [e.seq, e.message, e.count])).toEqual([
      [1, "firing", 1],
      [2, "looking", 1],
      [3, "firing", 1],
      [4, "restarted by hand", 1],
      [5, "cooldown", 1],
    ]);
  });
});

describe("remediation attempts", () => {
  test("the same attempt of an incident cannot be created twice", () => {
    const { id } = open("fp-1");
    journal.createAttempt(attempt(id, 1));
    let error: unknown;
    try {
      journal.createAttempt(attempt(id, 1, { status: "running" }));
    } catch (caught) {
      error = caught;
    }
    expect(isOpsError(error) && error.code).toBe("E_ATTEMPT_EXISTS");
    expect(journal.attempts(id)).toEqual([attempt(id, 1)]);
  });

  test("an update changes only the fields it names and records read back without NULLs", () => {
    const { id } = open("fp-1");
    journal.createAttempt(attempt(id, 1));
    journal.updateAttempt(id, 1, { status: "running", runId: "20261125T120102-3fa9", startedAt: t0 + 10 });
    journal.updateAttempt(id, 1, { status: "succeeded", finishedAt: t0 + 20, detail: "verified" });
    expect(journal.attempts(id)).toEqual([
      { ...attempt(id, 1), status: "succeeded", runId: "20261125T120102-3fa9", startedAt: t0 + 10, finishedAt: t0 + 20, detail: "verified" },
    ]);
  });

  test("the last start of a fingerprint spans its incidents and ignores dry runs and attempts not started", () => {
    const first = open("fp-1");
    journal.createAttempt(attempt(first.id, 1, { status: "failed", startedAt: t0 + 100 }));
    journal.updateIncident(first.id, { status: "resolved" });
    const second = open("fp-1");
    expect(journal.lastAttemptStart("fp-1")).toBe(t0 + 100);
    journal.createAttempt(attempt(second.id, 1, { status: "running", startedAt: t0 + 500 }));
    journal.createAttempt(attempt(second.id, 2, { status: "dry_run", startedAt: t0 + 900 }));
    journal.createAttempt(attempt(second.id, 3, { status: "awaiting_approval" }));
    expect(journal.lastAttemptStart("fp-1")).toBe(t0 + 500);
    // An attempt cut off by a restart does not hold its retry back.
    journal.createAttempt(attempt(second.id, 4, { status: "interrupted", startedAt: t0 + 950 }));
    expect(journal.lastAttemptStart("fp-1")).toBe(t0 + 500);
    expect(journal.lastAttemptStart("fp-other")).toBeUndefined();
  });

  test("a rule's attempts since a time are counted for rate limits, dry runs excluded", () => {
    const a = open("fp-a");
    const b = open("fp-b");
    journal.createAttempt(attempt(a.id, 1, { startedAt: t0 - 1, status: "succeeded" }));
    journal.createAttempt(attempt(a.id, 2, { startedAt: t0, status: "failed" }));
    journal.createAttempt(attempt(b.id, 1, { startedAt: t0 + 5, status: "running", fingerprint: "fp-b" }));
    journal.createAttempt(attempt(b.id, 2, { startedAt: t0 + 6, status: "dry_run", fingerprint: "fp-b" }));
    journal.createAttempt(attempt(b.id, 3, { startedAt: t0 + 7, status: "running", rule: "other" }));
    expect(journal.countRuleAttemptsSince("restart-checkout", t0)).toBe(2);
    expect(journal.countRuleAttemptsSince("restart-checkout", t0 - 1)).toBe(3);
    expect(journal.countRuleAttemptsSince("nothing", 0)).toBe(0);
  });

  test("attempts in given states come back across incidents in creation order", () => {
    const a = open("fp-a");
    const b = open("fp-b");
    journal.createAttempt(attempt(b.id, 1, { status: "awaiting_approval", createdAt: t0 + 1 }));
    journal.createAttempt(attempt(a.id, 1, { status: "running", createdAt: t0 + 2 }));
    journal.createAttempt(attempt(a.id, 2, { status: "succeeded", createdAt: t0 + 3 }));
    journal.createAttempt(attempt(a.id, 3, { status: "queued", createdAt: t0 }));
    expect(journal.attemptsIn(["running", "awaiting_approval", "queued"]).map((x) => [x.incidentId, x.attempt])).toEqual([[a.id, 3], [b.id, 1], [a.id, 1]]);
    expect(journal.attemptsIn([])).toEqual([]);
  });
});

describe("rule states, settings and transactions", () => {
  test("a rule's circuit breaker round-trips and can be closed again", () => {
    expect(journal.getRuleState("restart-checkout")).toBeUndefined();
    journal.putRuleState({ rule: "restart-checkout", consecutiveFailures: 3, disabledAt: t0, disabledReason: "3 failures in a row" });
    expect(journal.getRuleState("restart-checkout")).toEqual({ rule: "restart-checkout", consecutiveFailures: 3, disabledAt: t0, disabledReason: "3 failures in a row" });
    journal.putRuleState({ rule: "restart-checkout", consecutiveFailures: 0 });
    expect(journal.getRuleState("restart-checkout")).toEqual({ rule: "restart-checkout", consecutiveFailures: 0 });
  });

  test("a setting round-trips, is overwritten, and is deleted by undefined", () => {
    expect(journal.getSetting("leader")).toBeUndefined();
    journal.putSetting("leader", "a");
    journal.putSetting("leader", "b");
    expect(journal.getSetting("leader")).toBe("b");
    journal.putSetting("leader", undefined);
    expect(journal.getSetting("leader")).toBeUndefined();
  });

  test("a transaction commits together, rolls back together, and nests as a savepoint", () => {
    const value = journal.transaction(() => {
      journal.putSetting("a", "1");
      expect(() =>
        journal.transaction(() => {
          journal.putSetting("b", "2");
          throw new Error("inner");
        }),
      ).toThrow("inner");
      journal.transaction(() => journal.putSetting("c", "3"));
      return 42;
    });
    expect(value).toBe(42);
    expect([journal.getSetting("a"), journal.getSetting("b"), journal.getSetting("c")]).toEqual(["1", undefined, "3"]);
    expect(() =>
      journal.transaction(() => {
        open("fp-1");
        journal.putSetting("d", "4");
        throw new Error("outer");
      }),
    ).toThrow("outer");
    expect(journal.countIncidents()).toBe(0);
    expect(journal.getSetting("d")).toBeUndefined();
  });

  test("remediation runs left running by a dead server are marked interrupted, and only those", () => {
    const params = { configFiles: [], cwd: "/", vars: {}, dryRun: false };
    journal.startRun({ id: "run-live", kind: "workflow", name: "restart", params: { ...params, trigger: { incident: 1, attempt: 1, rule: "r" } } });
    // A CLI run on the same journal belongs to another process that may be alive.
    journal.startRun({ id: "run-cli", kind: "workflow", name: "deploy", params });
    journal.startRun({ id: "run-done", kind: "exec", name: "uptime", params });
    journal.finishRun("run-done", "succeeded", {});
    expect(journal.interruptRunningRuns()).toEqual(["run-live"]);
    const run = journal.getRun("run-live")!.run;
    expect(run.status).toBe("interrupted");
    expect(Date.parse(run.finishedAt!)).toBeGreaterThan(0);
    expect(journal.getRun("run-done")!.run.status).toBe("succeeded");
    expect(journal.getRun("run-cli")!.run.status).toBe("running");
    expect(journal.interruptRunningRuns()).toEqual([]);
  });
});

test("everything survives closing and reopening the journal file", () => {
  const { id } = open("fp-1");
  journal.setMilestone(id, "resolved", t0 + 1234);
  journal.updateIncident(id, { status: "resolved", automated: true, resolution: "verified by probe" });
  journal.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing" });
  journal.addIncidentEvent(id, { at: t0 + 1, kind: "alert", message: "firing" });
  journal.createAttempt(attempt(id, 1, { status: "succeeded", startedAt: t0 + 10 }));
  const [notification] = journal.acceptNotifications([{ source: "alertmanager", receivedAt: t0, body: "{}" }]);
  journal.putAlertState({ fingerprint: "fp-1", status: "resolved", startsAt: t0, updatedAt: t0 + 2, incidentId: id });
  journal.putRuleState({ rule: "restart-checkout", consecutiveFailures: 1 });
  journal.putSetting("schema", "1");
  const before = journal.getIncident(id);
  journal.close();

  journal = openSqliteJournal(location);
  expect(journal.getIncident(id)).toEqual(before!);
  expect(before).toMatchObject({ status: "resolved", automated: true, resolution: "verified by probe", milestones: { started: t0, detected: t0 + 50, resolved: t0 + 1234 } });
  expect(journal.incidentEvents(id).map((e) => e.count)).toEqual([2]);
  expect(journal.attempts(id)).toHaveLength(1);
  expect(journal.lastAttemptStart("fp-1")).toBe(t0 + 10);
  expect(journal.pendingNotifications(10).map((n) => n.id)).toEqual([notification!]);
  expect(journal.getAlertState("fp-1")?.incidentId).toBe(id);
  expect(journal.getRuleState("restart-checkout")?.consecutiveFailures).toBe(1);
  expect(journal.getSetting("schema")).toBe("1");
  journal.addIncidentEvent(id, { at: t0 + 2, kind: "note", message: "closed by hand" });
  expect(journal.incidentEvents(id).map((e) => e.seq)).toEqual([1, 2]);
});
