import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { hostileValues } from "../../test/harness/hostile.ts";
import { isOpsError } from "../errors.ts";
import type { CurrentJournal } from "./contract.ts";
import type { AttemptRecord, IncidentRecord, Journal } from "./types.ts";

/** The time the sample incidents start at (epoch ms). */
export const t0 = 1764072000123;

/** Opens a sample incident (a firing HighErrorRate on checkout, rule restart-checkout), for the contract and an implementation's own tests. */
export function openSampleIncident(journal: Journal, fingerprint: string, overrides: Partial<Parameters<Journal["openIncident"]>[0]> = {}): Promise<IncidentRecord> {
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

const open = openSampleIncident;

function attempt(incidentId: number, n: number, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  return { incidentId, attempt: n, rule: "restart-checkout", fingerprint: "fp-1", status: "queued", createdAt: t0 + n, ...overrides };
}

/** Notifications, alert states, incidents and their timelines, attempts, rule states and settings. */
export function describeIncidentContract(journal: CurrentJournal): void {
  describe("notifications", () => {
    test("a batch is committed in one call and its ids come back in order", async () => {
      const j = journal();
      const ids = await j.acceptNotifications([
        { source: "alertmanager", receivedAt: t0, body: '{"n":1}' },
        { source: "generic", receivedAt: t0 + 1, body: '{"n":2}' },
        { source: "check", receivedAt: t0 + 2, body: '{"n":3}' },
      ]);
      expect(ids).toHaveLength(3);
      expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
      const pending = await j.pendingNotifications(10);
      expect(pending.map((n) => n.id)).toEqual(ids);
      expect(pending[1]).toEqual({ id: ids[1]!, source: "generic", receivedAt: t0 + 1, body: '{"n":2}', processed: false });
    });

    test("processed notifications leave the pending list but stay counted", async () => {
      const j = journal();
      const ids = await j.acceptNotifications([1, 2, 3, 4].map((n) => ({ source: "generic" as const, receivedAt: t0 + n, body: String(n) })));
      await j.markNotificationsProcessed([ids[0]!, ids[2]!]);
      expect((await j.pendingNotifications(10)).map((n) => n.id)).toEqual([ids[1]!, ids[3]!]);
      expect((await j.pendingNotifications(1)).map((n) => n.id)).toEqual([ids[1]!]);
      expect(await j.countNotifications()).toBe(4);
      await j.markNotificationsProcessed([]);
      expect(await j.pendingNotifications(10)).toHaveLength(2);
    });

    test("a claim marks processed the ids not processed yet and returns those, in id order; claiming them again returns none", async () => {
      const j = journal();
      const ids = await j.acceptNotifications([1, 2, 3, 4, 5].map((n) => ({ source: "generic" as const, receivedAt: t0 + n, body: String(n) })));
      await j.markNotificationsProcessed([ids[1]!]);
      expect(await j.claimNotifications([ids[4]!, ids[0]!, ids[1]!, ids[2]!, ids[4]! + 1000])).toEqual([ids[0]!, ids[2]!, ids[4]!]);
      expect((await j.pendingNotifications(10)).map((n) => n.id)).toEqual([ids[3]!]);
      expect(await j.claimNotifications([ids[0]!, ids[2]!, ids[4]!])).toEqual([]);
      expect(await j.claimNotifications([])).toEqual([]);
      expect(await j.countNotifications()).toBe(5);
    });

    test("of two claims racing for the same notifications each id goes to exactly one", async () => {
      const j = journal();
      const ids = await j.acceptNotifications(Array.from({ length: 20 }, (_, n) => ({ source: "generic" as const, receivedAt: t0 + n, body: String(n) })));
      const [first, second] = await Promise.all([j.claimNotifications(ids), j.claimNotifications([...ids].reverse())]);
      expect([...first!, ...second!].sort((a, b) => a - b)).toEqual(ids);
      expect(first!.filter((id) => second!.includes(id))).toEqual([]);
    });

    test("a claim inside a rolled-back transaction is undone: the notifications are pending and can be claimed again", async () => {
      const j = journal();
      const ids = await j.acceptNotifications([1, 2].map((n) => ({ source: "generic" as const, receivedAt: t0 + n, body: String(n) })));
      await expect(
        j.transaction(async (tx) => {
          expect(await tx.claimNotifications(ids)).toEqual(ids);
          expect(await tx.claimNotifications(ids)).toEqual([]);
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect((await j.pendingNotifications(10)).map((n) => n.id)).toEqual(ids);
      expect(await j.transaction((tx) => tx.claimNotifications(ids))).toEqual(ids);
      expect(await j.pendingNotifications(10)).toEqual([]);
    });

    test("pending notifications received before a time are those of a replica that died with them", async () => {
      const j = journal();
      const ids = await j.acceptNotifications([0, 10, 20, 5].map((n) => ({ source: "generic" as const, receivedAt: t0 + n, body: String(n) })));
      expect((await j.pendingNotifications(10, { receivedBefore: t0 + 10 })).map((n) => n.id)).toEqual([ids[0]!, ids[3]!]);
      expect((await j.pendingNotifications(1, { receivedBefore: t0 + 10 })).map((n) => n.id)).toEqual([ids[0]!]);
      expect((await j.pendingNotifications(10, { receivedBefore: t0 + 21 })).map((n) => n.id)).toEqual(ids);
      expect(await j.pendingNotifications(10, { receivedBefore: t0 })).toEqual([]);
      await j.markNotificationsProcessed([ids[0]!]);
      expect((await j.pendingNotifications(10, { receivedBefore: t0 + 10 })).map((n) => n.id)).toEqual([ids[3]!]);
      expect((await j.pendingNotifications(10, {})).map((n) => n.id)).toEqual(ids.slice(1));
    });

    test("10,000 notifications accepted in batches of 100 all come back pending with distinct ids", async () => {
      const j = journal();
      const all: number[] = [];
      for (let b = 0; b < 100; b++) {
        const batch = Array.from({ length: 100 }, (_, i) => ({ source: "alertmanager" as const, receivedAt: t0 + b * 100 + i, body: `{"alert":${b * 100 + i}}` }));
        all.push(...(await j.acceptNotifications(batch)));
      }
      expect(new Set(all).size).toBe(10_000);
      const pending = await j.pendingNotifications(20_000);
      expect(pending.map((n) => n.id)).toEqual(all);
      expect(pending.every((n) => !n.processed)).toBe(true);
      expect(await j.countNotifications()).toBe(10_000);
    });

    test("a batch that fails part way commits none of it", async () => {
      const j = journal();
      const bad = [{ source: "generic" as const, receivedAt: t0, body: "ok" }, { source: "generic" as const, receivedAt: t0, body: null as unknown as string }];
      await expect(j.acceptNotifications(bad)).rejects.toThrow();
      expect(await j.countNotifications()).toBe(0);
    });
  });

  describe("alert states", () => {
    test("the last word about a fingerprint round-trips and is replaced by the next", async () => {
      const j = journal();
      expect(await j.getAlertState("fp-1")).toBeUndefined();
      await j.putAlertState({ fingerprint: "fp-1", status: "firing", startsAt: t0, updatedAt: t0 + 1 });
      expect(await j.getAlertState("fp-1")).toEqual({ fingerprint: "fp-1", status: "firing", startsAt: t0, updatedAt: t0 + 1 });
      await j.putAlertState({ fingerprint: "fp-1", status: "resolved", startsAt: t0, endsAt: t0 + 9, incidentId: 7, updatedAt: t0 + 10 });
      expect(await j.getAlertState("fp-1")).toEqual({ fingerprint: "fp-1", status: "resolved", startsAt: t0, endsAt: t0 + 9, incidentId: 7, updatedAt: t0 + 10 });
    });
  });

  describe("incidents", () => {
    test("an opened incident reads back in the record's shape, optional fields omitted", async () => {
      const j = journal();
      const incident = await open(j, "fp-1", { rule: undefined });
      expect(incident).toEqual({
        id: incident.id, fingerprint: "fp-1", status: "open", title: "HighErrorRate", source: "alertmanager",
        labels: { alertname: "HighErrorRate", service: "checkout", severity: "critical" }, annotations: { summary: "5xx above 5%" },
        milestones: { started: t0, detected: t0 + 50 }, attempts: 0, escalated: false, automated: false, notifications: 1, lastNotifiedAt: t0 + 50,
      });
      expect(await j.getIncident(incident.id)).toEqual(incident);
      expect(await j.findOpenIncident("fp-1")).toEqual(incident);
      expect(await j.getIncident(incident.id + 1)).toBeUndefined();
    });

    test("an incident's trace id is kept and read back by id, by fingerprint and in the list, and survives its updates", async () => {
      const j = journal();
      const traceId = "0af7651916cd43dd8448eb211c80319c";
      const incident = await open(j, "fp-trace", { traceId });
      expect(incident.traceId).toBe(traceId);
      await j.updateIncident(incident.id, { status: "resolved", resolution: "alert resolved", attempts: 1 });
      expect((await j.getIncident(incident.id))?.traceId).toBe(traceId);
      const other = await open(j, "fp-plain");
      expect("traceId" in other).toBe(false);
      const listed = await j.listIncidents();
      expect(listed.find((i) => i.id === incident.id)?.traceId).toBe(traceId);
      expect(await j.findOpenIncident("fp-plain")).toEqual(other);
    });

    test("a fingerprint has at most one open incident, even when two open it at once; a new one opens after it resolves", async () => {
      const j = journal();
      const [first, second] = await Promise.allSettled([open(j, "fp-1"), open(j, "fp-1")]);
      expect([first.status, second.status].sort()).toEqual(["fulfilled", "rejected"]);
      const opened = first.status === "fulfilled" ? first.value : (second as PromiseFulfilledResult<IncidentRecord>).value;
      const error = await open(j, "fp-1").catch((e: unknown) => e);
      expect(isOpsError(error) && error.code).toBe("E_INCIDENT_OPEN");
      await j.updateIncident(opened.id, { status: "resolved", resolution: "alert resolved" });
      expect(await j.findOpenIncident("fp-1")).toBeUndefined();
      const next = await open(j, "fp-1");
      expect(next.id).toBeGreaterThan(opened.id);
      expect((await j.findOpenIncident("fp-1"))?.id).toBe(next.id);
    });

    test("the first occurrence of a milestone wins and keeps millisecond precision", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1", { milestones: { started: t0 } });
      expect(await j.setMilestone(id, "remediated", t0 + 60_001)).toBe(true);
      expect(await j.setMilestone(id, "remediated", t0 + 90_000)).toBe(false);
      expect(await j.setMilestone(id, "started", t0 - 5)).toBe(false);
      expect(await j.setMilestone(id + 1, "verified", t0)).toBe(false);
      expect((await j.getIncident(id))?.milestones).toEqual({ started: 1764072000123, remediated: 1764072060124 });
    });

    test("an unknown milestone name is refused", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await expect(j.setMilestone(id, "started_at = 0; --" as never, t0)).rejects.toThrow(/unknown milestone/);
    });

    test("an update changes only the fields it names", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.updateIncident(id, { attempts: 2, escalated: true, notifications: 40, lastNotifiedAt: t0 + 999 });
      const updated = (await j.getIncident(id))!;
      expect(updated).toMatchObject({ attempts: 2, escalated: true, automated: false, notifications: 40, lastNotifiedAt: t0 + 999, rule: "restart-checkout" });
      expect(updated.resolution).toBeUndefined();
      await j.updateIncident(id, { labels: { alertname: "Latency", service: "payments" } });
      await j.updateIncident(id, {});
      expect((await j.getIncident(id))?.labels).toEqual({ alertname: "Latency", service: "payments" });
    });

    test("listing is newest first, filters by status, fingerprint and start time, and counts with the same filter", async () => {
      const j = journal();
      const a = await open(j, "fp-a", { milestones: { started: t0 } });
      const b = await open(j, "fp-b", { milestones: { started: t0 + 1000 } });
      const c = await open(j, "fp-c", { milestones: { started: t0 + 2000 } });
      await j.updateIncident(a.id, { status: "resolved" });
      expect((await j.listIncidents()).map((i) => i.id)).toEqual([c.id, b.id, a.id]);
      expect((await j.listIncidents({ limit: 2 })).map((i) => i.id)).toEqual([c.id, b.id]);
      expect((await j.listIncidents({ status: "open" })).map((i) => i.id)).toEqual([c.id, b.id]);
      expect((await j.listIncidents({ fingerprint: "fp-a" })).map((i) => i.id)).toEqual([a.id]);
      expect((await j.listIncidents({ since: t0 + 1000 })).map((i) => i.id)).toEqual([c.id, b.id]);
      expect(await j.countIncidents()).toBe(3);
      expect(await j.countIncidents({ status: "resolved" })).toBe(1);
      expect(await j.countIncidents({ status: "open", since: t0 + 1500, limit: 1 })).toBe(1);
    });

    test("listing defaults to the newest 100", async () => {
      const j = journal();
      for (let i = 0; i < 105; i++) await open(j, `fp-${i}`);
      const listed = await j.listIncidents();
      expect(listed).toHaveLength(100);
      expect(listed[0]!.fingerprint).toBe("fp-104");
      expect(await j.countIncidents()).toBe(105);
    });
  });

  describe("hostile values", () => {
    // Text both journals keep as UTF-8: a lone surrogate (not text in any encoding) arrives as U+FFFD, as through any JSON API.
    const values = hostileValues.filter(({ value }) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value));
    test("alert labels, names and fingerprints made of shell and SQL metacharacters are kept byte for byte, found again, and grouped by as data", async () => {
      const j = journal();
      for (const [i, { value }] of values.entries()) {
        // The value as fingerprint, label value, label name and annotation, and a label named by it that MTTR groups by.
        const labels = { alertname: value, service: value, [`k${i}${value}`]: value, team: value };
        const opened = await open(j, value, { labels, annotations: { [value]: value }, title: value });
        const found = await j.findOpenIncident(value);
        expect(found?.id).toBe(opened.id);
        expect(found).toMatchObject({ fingerprint: value, title: value, labels, annotations: { [value]: value } });
        await j.addIncidentEvent(opened.id, { at: t0, kind: "alert", message: value, data: { [value]: value } });
        expect((await j.incidentEvents(opened.id)).at(-1)).toMatchObject({ message: value, data: { [value]: value } });
        await j.putAlertState({ fingerprint: value, status: "firing", startsAt: t0, incidentId: opened.id, updatedAt: t0 });
        expect((await j.getAlertState(value))?.incidentId).toBe(opened.id);
        expect((await j.listIncidents({ fingerprint: value })).map((r) => r.id)).toEqual([opened.id]);
      }
      const byTeam = await j.mttr({ groupBy: { label: "team" } });
      expect(byTeam.counts.map((c) => c.group).sort()).toEqual(values.map((v) => v.value).sort());
      const byService = await j.mttr({ groupBy: { column: "service" } });
      expect(byService.counts.reduce((n, c) => n + c.incidents, 0)).toBe(values.length);
      // A label name that is itself hostile is a value too: it groups, it is not spliced.
      const odd = await j.mttr({ groupBy: { label: `k0${values[0]!.value}` } });
      expect(odd.counts.find((c) => c.group === values[0]!.value)?.incidents).toBe(1);
      expect(await j.countIncidents()).toBe(values.length);
    });
  });

  describe("incident timeline", () => {
    test("consecutive identical lines fold into one with a count and the latest time", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing", data: { n: 1 } });
      for (let i = 1; i < 10_000; i++) await j.addIncidentEvent(id, { at: t0 + i, kind: "alert", message: "firing" });
      await j.addIncidentEvent(id, { at: t0 + 20_000, kind: "gate", message: "cooldown: 4m left" });
      await j.addIncidentEvent(id, { at: t0 + 20_001, kind: "alert", message: "firing" });
      await j.addIncidentEvent(id, { at: t0 + 20_002, kind: "note", message: "firing" });
      expect(await j.incidentEvents(id)).toEqual([
        { incidentId: id, seq: 1, at: t0 + 9_999, kind: "alert", message: "firing", data: { n: 1 }, count: 10_000 },
        { incidentId: id, seq: 2, at: t0 + 20_000, kind: "gate", message: "cooldown: 4m left", data: {}, count: 1 },
        { incidentId: id, seq: 3, at: t0 + 20_001, kind: "alert", message: "firing", data: {}, count: 1 },
        { incidentId: id, seq: 4, at: t0 + 20_002, kind: "note", message: "firing", data: {}, count: 1 },
      ]);
    });

    test("each incident numbers its own timeline from 1, and lines come back in time order", async () => {
      const j = journal();
      const a = await open(j, "fp-a");
      const b = await open(j, "fp-b");
      await j.addIncidentEvent(a.id, { at: t0 + 5, kind: "alert", message: "one" });
      await j.addIncidentEvent(a.id, { at: t0, kind: "milestone", message: "started" });
      await j.addIncidentEvent(b.id, { at: t0, kind: "alert", message: "one" });
      expect((await j.incidentEvents(a.id)).map((e) => [e.seq, e.message])).toEqual([[2, "started"], [1, "one"]]);
      expect((await j.incidentEvents(b.id)).map((e) => e.seq)).toEqual([1]);
    });

    test("a line added in a rolled-back transaction leaves no gap or stale fold behind", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.addIncidentEvent(id, { at: t0, kind: "alert", message: "firing" });
      await expect(
        j.transaction(async (tx) => {
          await tx.addIncidentEvent(id, { at: t0 + 1, kind: "run", message: "started" });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      await j.addIncidentEvent(id, { at: t0 + 2, kind: "note", message: "retrying" });
      await j.addIncidentEvent(id, { at: t0 + 3, kind: "note", message: "retrying" });
      expect((await j.incidentEvents(id)).map((e) => [e.seq, e.kind, e.count])).toEqual([[1, "alert", 1], [2, "note", 2]]);
    });
  });

  describe("remediation attempts", () => {
    test("inside a transaction, a refused second open incident or existing attempt leaves the transaction whole: what it wrote before and after commits", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.createAttempt(attempt(id, 1));
      await j.transaction(async (tx) => {
        await tx.putSetting("before", "kept");
        const opened = await open(tx as Journal, "fp-1").catch((e: unknown) => e);
        expect(isOpsError(opened) && opened.code).toBe("E_INCIDENT_OPEN");
        const created = await tx.createAttempt(attempt(id, 1)).catch((e: unknown) => e);
        expect(isOpsError(created) && created.code).toBe("E_ATTEMPT_EXISTS");
        await tx.putSetting("after", "kept");
        await tx.createAttempt(attempt(id, 2));
      });
      expect([await j.getSetting("before"), await j.getSetting("after")]).toEqual(["kept", "kept"]);
      expect((await j.attempts(id)).map((a) => a.attempt)).toEqual([1, 2]);
      expect((await j.listIncidents()).length).toBe(1);
    });

    test("the same attempt of an incident cannot be created twice, even by two callers at once", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.createAttempt(attempt(id, 1));
      const error = await j.createAttempt(attempt(id, 1, { status: "running" })).then(() => undefined, (caught: unknown) => caught);
      expect(isOpsError(error) && error.code).toBe("E_ATTEMPT_EXISTS");
      const raced = await Promise.allSettled([j.createAttempt(attempt(id, 2)), j.createAttempt(attempt(id, 2, { status: "running" }))]);
      expect(raced.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      expect(await j.attempts(id)).toEqual([attempt(id, 1), attempt(id, 2)]);
    });

    test("an update changes only the fields it names and records read back without empty fields", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.createAttempt(attempt(id, 1));
      await j.updateAttempt(id, 1, { status: "running", runId: "20261125T120102-3fa9", startedAt: t0 + 10 });
      await j.updateAttempt(id, 1, { status: "succeeded", finishedAt: t0 + 20, detail: "verified" });
      expect(await j.attempts(id)).toEqual([{ ...attempt(id, 1), status: "succeeded", runId: "20261125T120102-3fa9", startedAt: t0 + 10, finishedAt: t0 + 20, detail: "verified" }]);
    });

    test("an attempt's owner is kept at creation, set by an update or a claim, and read back", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.createAttempt(attempt(id, 1, { status: "running", startedAt: t0 + 1, owner: "replica-a" }));
      await j.createAttempt(attempt(id, 2));
      await j.createAttempt(attempt(id, 3));
      expect(await j.claimAttempt(id, 2, "queued", { status: "running", startedAt: t0 + 2, owner: "replica-b" })).toBe(true);
      expect(await j.claimAttempt(id, 2, "queued", { status: "running", owner: "replica-c" })).toBe(false);
      // Taken over: the attempt of a dead replica gets its new owner, the rest of it unchanged.
      expect(await j.claimAttempt(id, 1, "running", { owner: "replica-b" })).toBe(true);
      await j.updateAttempt(id, 3, { owner: "replica-c" });
      expect(await j.attempts(id)).toEqual([
        attempt(id, 1, { status: "running", startedAt: t0 + 1, owner: "replica-b" }),
        attempt(id, 2, { status: "running", startedAt: t0 + 2, owner: "replica-b" }),
        attempt(id, 3, { owner: "replica-c" }),
      ]);
      expect((await j.attemptsIn(["running"])).map((a) => [a.attempt, a.owner])).toEqual([[1, "replica-b"], [2, "replica-b"]]);
    });

    test("a claim moves an attempt only from the status it names: of two racing claims, one wins", async () => {
      const j = journal();
      const { id } = await open(j, "fp-1");
      await j.createAttempt(attempt(id, 1, { status: "awaiting_approval" }));
      const raced = await Promise.all([j.claimAttempt(id, 1, "awaiting_approval", { status: "queued" }), j.claimAttempt(id, 1, "awaiting_approval", { status: "rejected", detail: "resolved by hand" })]);
      expect([...raced].sort()).toEqual([false, true]);
      const winner = raced[0] ? attempt(id, 1, { status: "queued" }) : attempt(id, 1, { status: "rejected", detail: "resolved by hand" });
      expect(await j.attempts(id)).toEqual([winner]);
      expect(await j.claimAttempt(id, 1, "running", { status: "failed" })).toBe(false);
      expect(await j.claimAttempt(id, 9, "queued", { status: "running" })).toBe(false);
    });

    test("the last start of a fingerprint spans its incidents and ignores dry runs, interrupted attempts and attempts not started", async () => {
      const j = journal();
      const first = await open(j, "fp-1");
      await j.createAttempt(attempt(first.id, 1, { status: "failed", startedAt: t0 + 100 }));
      await j.updateIncident(first.id, { status: "resolved" });
      const second = await open(j, "fp-1");
      expect(await j.lastAttemptStart("fp-1")).toBe(t0 + 100);
      await j.createAttempt(attempt(second.id, 1, { status: "running", startedAt: t0 + 500 }));
      await j.createAttempt(attempt(second.id, 2, { status: "dry_run", startedAt: t0 + 900 }));
      await j.createAttempt(attempt(second.id, 3, { status: "awaiting_approval" }));
      expect(await j.lastAttemptStart("fp-1")).toBe(t0 + 500);
      await j.createAttempt(attempt(second.id, 4, { status: "interrupted", startedAt: t0 + 950 }));
      expect(await j.lastAttemptStart("fp-1")).toBe(t0 + 500);
      expect(await j.lastAttemptStart("fp-other")).toBeUndefined();
    });

    test("a rule's attempts since a time are counted for rate limits, dry runs excluded", async () => {
      const j = journal();
      const a = await open(j, "fp-a");
      const b = await open(j, "fp-b");
      await j.createAttempt(attempt(a.id, 1, { startedAt: t0 - 1, status: "succeeded" }));
      await j.createAttempt(attempt(a.id, 2, { startedAt: t0, status: "failed" }));
      await j.createAttempt(attempt(b.id, 1, { startedAt: t0 + 5, status: "running", fingerprint: "fp-b" }));
      await j.createAttempt(attempt(b.id, 2, { startedAt: t0 + 6, status: "dry_run", fingerprint: "fp-b" }));
      await j.createAttempt(attempt(b.id, 3, { startedAt: t0 + 7, status: "running", rule: "other" }));
      expect(await j.countRuleAttemptsSince("restart-checkout", t0)).toBe(2);
      expect(await j.countRuleAttemptsSince("restart-checkout", t0 - 1)).toBe(3);
      expect(await j.countRuleAttemptsSince("nothing", 0)).toBe(0);
    });

    test("attempts in given states come back across incidents in creation order", async () => {
      const j = journal();
      const a = await open(j, "fp-a");
      const b = await open(j, "fp-b");
      await j.createAttempt(attempt(b.id, 1, { status: "awaiting_approval", createdAt: t0 + 1 }));
      await j.createAttempt(attempt(a.id, 1, { status: "running", createdAt: t0 + 2 }));
      await j.createAttempt(attempt(a.id, 2, { status: "succeeded", createdAt: t0 + 3 }));
      await j.createAttempt(attempt(a.id, 3, { status: "queued", createdAt: t0 }));
      expect((await j.attemptsIn(["running", "awaiting_approval", "queued"])).map((x) => [x.incidentId, x.attempt])).toEqual([[a.id, 3], [b.id, 1], [a.id, 1]]);
      expect(await j.attemptsIn([])).toEqual([]);
    });
  });

  describe("rule states, settings and runs cut off", () => {
    test("a rule's circuit breaker round-trips and can be closed again", async () => {
      const j = journal();
      expect(await j.getRuleState("restart-checkout")).toBeUndefined();
      await j.putRuleState({ rule: "restart-checkout", consecutiveFailures: 3, disabledAt: t0, disabledReason: "3 failures in a row" });
      expect(await j.getRuleState("restart-checkout")).toEqual({ rule: "restart-checkout", consecutiveFailures: 3, disabledAt: t0, disabledReason: "3 failures in a row" });
      await j.putRuleState({ rule: "restart-checkout", consecutiveFailures: 0 });
      expect(await j.getRuleState("restart-checkout")).toEqual({ rule: "restart-checkout", consecutiveFailures: 0 });
    });

    test("a setting round-trips, is overwritten, and is deleted by undefined", async () => {
      const j = journal();
      expect(await j.getSetting("leader")).toBeUndefined();
      await j.putSetting("leader", "a");
      await j.putSetting("leader", "b");
      expect(await j.getSetting("leader")).toBe("b");
      await j.putSetting("leader", undefined);
      expect(await j.getSetting("leader")).toBeUndefined();
    });

    test("remediation runs left running by a dead server are marked interrupted, and only those", async () => {
      const j = journal();
      const params = { configFiles: [], cwd: "/", vars: {}, dryRun: false };
      await j.startRun({ id: "run-live", kind: "workflow", name: "restart", params: { ...params, trigger: { incident: 1, attempt: 1, rule: "r" } } });
      // A CLI run on the same journal belongs to another process that may be alive.
      await j.startRun({ id: "run-cli", kind: "workflow", name: "deploy", params });
      await j.startRun({ id: "run-done", kind: "exec", name: "uptime", params });
      await j.finishRun("run-done", "succeeded", {});
      expect(await j.interruptRunningRuns()).toEqual(["run-live"]);
      const run = (await j.getRun("run-live"))!.run;
      expect(run.status).toBe("interrupted");
      expect(Date.parse(run.finishedAt!)).toBeGreaterThan(0);
      expect((await j.getRun("run-done"))!.run.status).toBe("succeeded");
      expect((await j.getRun("run-cli"))!.run.status).toBe("running");
      expect(await j.interruptRunningRuns()).toEqual([]);
    });

    test("remediation runs of a live process (by pid and host) are kept; those of any other are interrupted", async () => {
      const j = journal();
      const params = { configFiles: [], cwd: "/", vars: {}, dryRun: false, trigger: { incident: 1, attempt: 1, rule: "r" } };
      // startRun records this process as the owner.
      await j.startRun({ id: "run-mine", kind: "workflow", name: "restart", params });
      const me = { pid: process.pid, host: hostname() };
      expect(await j.interruptRunningRuns({ except: [{ pid: me.pid + 1, host: me.host }, { pid: me.pid, host: `${me.host}-other` }, me] })).toEqual([]);
      expect(await j.interruptRunningRuns({ except: [] })).toEqual(["run-mine"]);
      expect((await j.getRun("run-mine"))!.run.status).toBe("interrupted");
      await j.startRun({ id: "run-next", kind: "workflow", name: "restart", params });
      expect(await j.interruptRunningRuns({ except: [{ pid: me.pid, host: `${me.host}-other` }, { pid: me.pid + 1, host: me.host }] })).toEqual(["run-next"]);
    });
  });
}
