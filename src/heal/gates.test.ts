import { describe, expect, test } from "bun:test";
import type { AttemptRecord } from "../journal/index.ts";
import { countedAttempts, decide, type GateInput } from "./gates.ts";

const now = 1_764_072_000_000;
const base: GateInput = { now, paused: false, dryRun: false, ruleName: "restart-api", ruleState: undefined, attempts: [], maxAttempts: 2, approval: false, lastStart: undefined, cooldownMs: 600_000 };
const attempt = (n: number, status: AttemptRecord["status"]): AttemptRecord => ({ incidentId: 1, attempt: n, rule: "restart-api", fingerprint: "f", status, createdAt: now - 1000 });

describe("safety gates", () => {
  test("a fresh incident runs its first attempt", () => {
    expect(decide(base)).toEqual({ action: "run", reason: "remediation: attempt 1 of 2" });
  });

  test("an attempt in progress deduplicates repeats", () => {
    for (const status of ["queued", "running", "verifying", "awaiting_approval"] as const) {
      const decision = decide({ ...base, attempts: [attempt(1, status)] });
      expect(decision.action).toBe("hold");
      expect(decision.reason).toBe(`deduplicated: attempt 1 is ${status.replace("_", " ")}`);
    }
  });

  test("pause holds every remediation, and says how to undo it", () => {
    const decision = decide({ ...base, paused: true });
    expect(decision).toMatchObject({ action: "hold", gate: "paused" });
    expect(decision.reason).toContain("opskit resume");
  });

  test("cooldown holds with the time left and when to look again", () => {
    const decision = decide({ ...base, lastStart: now - (600_000 - 252_000) });
    expect(decision).toEqual({ action: "hold", gate: "cooldown", reason: "suppressed: cooldown, 4m12s left", retryAt: now + 252_000 });
    expect(decide({ ...base, lastStart: now - 600_000 }).action).toBe("run");
  });

  test("maxAttempts escalates once the counted attempts reach it", () => {
    const two = [attempt(1, "failed"), attempt(2, "interrupted")];
    expect(decide({ ...base, attempts: two })).toEqual({ action: "escalate", gate: "maxAttempts", reason: "escalated: maxAttempts 2 reached" });
    // Dry runs and rejected attempts never ran: they do not count.
    expect(countedAttempts([attempt(1, "dry_run"), attempt(2, "rejected"), attempt(3, "failed")])).toBe(1);
    expect(decide({ ...base, attempts: [attempt(1, "rejected"), attempt(2, "failed")] }).action).toBe("run");
  });

  test("after a successful last attempt, repeats hold under the cooldown; a still-firing alert escalates after it", () => {
    const done = [attempt(1, "succeeded")];
    const within = decide({ ...base, maxAttempts: 1, attempts: done, lastStart: now - 1000 });
    expect(within).toMatchObject({ action: "hold", gate: "cooldown" });
    expect(decide({ ...base, maxAttempts: 1, attempts: done, lastStart: now - 600_000 })).toMatchObject({ action: "escalate", gate: "maxAttempts" });
    // A failed last attempt escalates at once, cooldown or not.
    expect(decide({ ...base, maxAttempts: 1, attempts: [attempt(1, "failed")], lastStart: now - 1000 })).toMatchObject({ action: "escalate", gate: "maxAttempts" });
  });

  test("a rule disabled by its circuit breaker escalates instead of running", () => {
    const decision = decide({ ...base, ruleState: { rule: "restart-api", consecutiveFailures: 3, disabledAt: now - 5, disabledReason: "3 consecutive failed remediations" } });
    expect(decision).toMatchObject({ action: "escalate", gate: "circuit" });
    expect(decision.reason).toContain("3 consecutive failed remediations");
  });

  test("the per-rule rate limit holds and retries within a minute", () => {
    const decision = decide({ ...base, rateLimit: { runs: 5, perMs: 3_600_000, used: 5 } });
    expect(decision).toMatchObject({ action: "hold", gate: "rateLimit", retryAt: now + 60_000 });
    expect(decision.reason).toBe("suppressed: rate limit, 5 runs of rule restart-api in the last 1h (limit 5)");
    expect(decide({ ...base, rateLimit: { runs: 5, perMs: 3_600_000, used: 4 } }).action).toBe("run");
  });

  test("approval waits; dry-run records once", () => {
    expect(decide({ ...base, approval: true }).action).toBe("await_approval");
    expect(decide({ ...base, dryRun: true }).action).toBe("dry_run");
    expect(decide({ ...base, dryRun: true, attempts: [attempt(1, "dry_run")] })).toMatchObject({ action: "hold", gate: "dedupe" });
  });

  test("dedupe is checked before pause, pause before cooldown", () => {
    expect(decide({ ...base, paused: true, attempts: [attempt(1, "running")] })).toMatchObject({ gate: "dedupe" });
    expect(decide({ ...base, paused: true, lastStart: now })).toMatchObject({ gate: "paused" });
  });

  test("a silence holds after dedupe and before everything else, escalation included, until its end; pause says who paused", () => {
    const silence = { id: "s-1", matchers: [{ name: "alertname", value: "ApiDown", isRegex: false, isEqual: true }], startsAt: now - 1000, endsAt: now + 7_200_000, createdBy: "alice", comment: "migration", createdAt: now - 1000, updatedAt: now - 1000 };
    expect(decide({ ...base, silence, paused: true })).toEqual({ action: "hold", gate: "silence", reason: `silenced: silence s-1 by alice until ${new Date(now + 7_200_000).toISOString()}`, retryAt: now + 7_200_000 });
    expect(decide({ ...base, silence, attempts: [attempt(1, "failed"), attempt(2, "failed")] })).toMatchObject({ action: "hold", gate: "silence" });
    expect(decide({ ...base, silence, attempts: [attempt(1, "running")] })).toMatchObject({ action: "hold", gate: "dedupe" });
    expect(decide({ ...base, paused: true, pausedBy: "bob" }).reason).toBe("suppressed: automatic remediation is paused by bob (opskit resume)");
  });
});
