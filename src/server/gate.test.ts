import { describe, expect, test } from "bun:test";
import type { AttemptRecord, IncidentEventRecord, IncidentRecord } from "../journal/index.ts";
import { gateOf } from "./gate.ts";

const now = 1_800_000_000_000;
const incident = (overrides: Partial<IncidentRecord> = {}): IncidentRecord => ({
  id: 7,
  fingerprint: "fp",
  status: "open",
  title: "Broken",
  source: "generic",
  labels: {},
  annotations: {},
  rule: "fix-it",
  milestones: { started: now - 60_000, detected: now - 59_000 },
  attempts: 0,
  escalated: false,
  automated: false,
  notifications: 1,
  lastNotifiedAt: now - 59_000,
  ...overrides,
});
const attempt = (n: number, status: AttemptRecord["status"], at: number, more: Partial<AttemptRecord> = {}): AttemptRecord => ({ incidentId: 7, attempt: n, rule: "fix-it", fingerprint: "fp", status, createdAt: at, ...more });
const line = (at: number, message: string, data: Record<string, unknown>, count = 1, kind: IncidentEventRecord["kind"] = "gate"): IncidentEventRecord => ({ incidentId: 7, seq: 1, at, kind, message, data, count });

describe("gateOf", () => {
  test("a resolved incident has no gate; one no rule matches waits for a person", () => {
    expect(gateOf(incident({ status: "resolved" }), undefined, now, false)).toBeUndefined();
    expect(gateOf(incident({ rule: undefined }), undefined, now, false)).toEqual({ state: "unmatched", reason: "no rule matches this alert: it waits for a person" });
  });

  test("an attempt in flight says what it waits for, before anything else", () => {
    const facts = (status: AttemptRecord["status"]) => ({ attempts: [attempt(1, "failed", now - 50_000), attempt(2, status, now - 1000)], gate: line(now - 500, "suppressed: cooldown, 1m left", { gate: "cooldown", waitMs: 60_000 }) });
    expect(gateOf(incident(), facts("awaiting_approval"), now, true)).toEqual({ state: "awaiting_approval", attempt: 2, reason: "approval required for attempt 2" });
    expect(gateOf(incident(), facts("queued"), now, false)).toMatchObject({ state: "queued", attempt: 2 });
    expect(gateOf(incident({ escalated: true }), facts("running"), now, false)).toMatchObject({ state: "running", attempt: 2, reason: "attempt 2 is running" });
    expect(gateOf(incident(), facts("verifying"), now, false)).toMatchObject({ state: "running", reason: "attempt 2 ran; verifying recovery" });
  });

  test("an escalated incident gives the escalation's reason; a pause suppresses the rest", () => {
    const escalation = line(now - 10, "escalated: maxAttempts 2 reached", {}, 1, "escalation");
    expect(gateOf(incident({ escalated: true }), { attempts: [attempt(1, "failed", now - 9000)], escalation }, now, false)).toEqual({ state: "escalated", reason: "maxAttempts 2 reached" });
    expect(gateOf(incident(), { attempts: [] }, now, true)).toEqual({ state: "suppressed", reason: "automatic remediation is paused" });
  });

  test("a cooldown suppresses until it ends, counted from the line's latest time; after that the gates decide again", () => {
    const failed = attempt(1, "failed", now - 120_000, { startedAt: now - 119_000, finishedAt: now - 100_000 });
    const cooldown = line(now - 30_000, "suppressed: cooldown, 4m12s left", { gate: "cooldown", rule: "fix-it", until: now - 30_000 + 252_000, waitMs: 252_000 });
    expect(gateOf(incident(), { attempts: [failed], gate: cooldown }, now, false)).toEqual({ state: "suppressed", reason: "cooldown", until: now + 222_000 });
    // A rate limit's line repeated later folds into the first with the later time: its end moves with it.
    const limited = line(now - 1000, "suppressed: rate limit, 3 runs of rule fix-it in the last 1h (limit 3)", { gate: "rateLimit", until: now - 50_000, waitMs: 60_000 }, 3);
    expect(gateOf(incident(), { attempts: [failed], gate: limited }, now, false)).toEqual({ state: "suppressed", reason: "rate limit, 3 runs of rule fix-it in the last 1h (limit 3)", until: now + 59_000 });
    expect(gateOf(incident(), { attempts: [failed], gate: { ...cooldown, data: { gate: "cooldown", waitMs: 1000 } } }, now, false)).toEqual({ state: "waiting", reason: "cooldown over: the gates decide again" });
  });

  test("a gate line older than the last attempt's change is history; the attempt's end says where it stands", () => {
    const old = line(now - 100_000, "suppressed: cooldown, 5m left", { gate: "cooldown", waitMs: 300_000 });
    const succeeded = attempt(1, "succeeded", now - 90_000, { startedAt: now - 90_000, finishedAt: now - 80_000 });
    expect(gateOf(incident(), { attempts: [succeeded], gate: old }, now, false)).toEqual({ state: "waiting", attempt: 1, reason: "attempt 1 succeeded; waiting for the alert to resolve" });
    expect(gateOf(incident(), { attempts: [attempt(1, "rejected", now - 5)] }, now, false)).toEqual({ state: "waiting", attempt: 1, reason: "attempt 1 rejected" });
    expect(gateOf(incident(), undefined, now, false)).toEqual({ state: "waiting", reason: "the gates decide" });
  });

  test("a dry run is suppressed with what it would have run", () => {
    const dry = attempt(1, "dry_run", now - 1000);
    const gate = line(now - 999, "dry-run: would run workflow fix on \"local\"", { gate: "dryRun" });
    expect(gateOf(incident(), { attempts: [dry], gate }, now, false)).toEqual({ state: "suppressed", reason: 'dry-run: would run workflow fix on "local"' });
  });

  test("a silence on the timeline suppresses the incident until it ends; after, the gates decide", () => {
    const silenced = line(now - 1000, "silenced: silence s-1 …", { gate: "silence", silenceId: "s-1", createdBy: "alice", until: now + 60_000 });
    expect(gateOf(incident(), { attempts: [], gate: silenced }, now, false)).toEqual({ state: "suppressed", reason: "silenced by silence s-1 (alice)", until: now + 60_000 });
    expect(gateOf(incident(), { attempts: [], gate: silenced }, now + 61_000, false)).toEqual({ state: "waiting", reason: "the gates decide" });
  });
});
