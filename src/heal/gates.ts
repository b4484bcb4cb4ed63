import type { AttemptRecord, AttemptStatus, RuleStateRecord, SilenceRecord } from "../journal/index.ts";
import { formatMs } from "../ui/index.ts";

/** Attempts that still hold the incident: while one exists, nothing new starts. */
export const activeAttemptStatuses: readonly AttemptStatus[] = ["awaiting_approval", "queued", "running", "verifying"];
/** Attempts that count against maxAttempts: every one that ran, or began to. */
const countedStatuses: ReadonlySet<AttemptStatus> = new Set(["running", "verifying", "succeeded", "failed", "interrupted"]);

export interface GateInput {
  now: number;
  paused: boolean;
  /** Who paused, when the pause says (opskit pause --as). */
  pausedBy?: string;
  /** The active silence whose matchers hold on the incident's labels, if any. */
  silence?: SilenceRecord;
  dryRun: boolean;
  ruleName: string;
  ruleState: RuleStateRecord | undefined;
  attempts: readonly AttemptRecord[];
  maxAttempts: number;
  approval: boolean;
  /** When a remediation last started for this fingerprint, across incidents. */
  lastStart: number | undefined;
  cooldownMs: number;
  rateLimit?: { runs: number; perMs: number; used: number };
}

export type GateDecision =
  | { action: "run"; reason: string }
  | { action: "await_approval"; reason: string }
  | { action: "dry_run"; reason: string }
  | { action: "escalate"; gate: string; reason: string }
  | { action: "hold"; gate: string; reason: string; retryAt?: number };

/** Attempts that ran, or began to, for maxAttempts. */
export function countedAttempts(attempts: readonly AttemptRecord[]): number {
  return attempts.filter((a) => countedStatuses.has(a.status)).length;
}

/**
 * Decides whether a remediation may start for an incident, and says why not.
 * Pure: every gate reads only its input, so each is tested on its own and the
 * reason recorded on the incident is exactly what decided.
 */
export function decide(input: GateInput): GateDecision {
  const active = input.attempts.find((a) => activeAttemptStatuses.includes(a.status));
  if (active) return { action: "hold", gate: "dedupe", reason: `deduplicated: attempt ${active.attempt} is ${active.status.replace("_", " ")}` };
  if (input.dryRun && input.attempts.some((a) => a.status === "dry_run")) return { action: "hold", gate: "dedupe", reason: "deduplicated: dry run already recorded" };
  // A silence mutes what would follow (a run, an escalation), as Alertmanager's mutes notifications; it is looked at again when it ends.
  if (input.silence) {
    const { silence } = input;
    return { action: "hold", gate: "silence", reason: `silenced: silence ${silence.id} by ${silence.createdBy} until ${new Date(silence.endsAt).toISOString()}`, retryAt: silence.endsAt };
  }
  if (input.paused) return { action: "hold", gate: "paused", reason: `suppressed: automatic remediation is paused${input.pausedBy ? ` by ${input.pausedBy}` : ""} (opskit resume)` };
  if (input.ruleState?.disabledAt !== undefined) {
    return { action: "escalate", gate: "circuit", reason: `escalated: rule ${input.ruleName} is disabled by its circuit breaker (${input.ruleState.disabledReason ?? "too many failed remediations"})` };
  }
  const used = countedAttempts(input.attempts);
  const exhausted = { action: "escalate", gate: "maxAttempts", reason: `escalated: maxAttempts ${input.maxAttempts} reached` } as const;
  // After a failed attempt the last one is spent: escalate now. After a
  // successful one the alert needs time to resolve: the cooldown comes first,
  // and only an alert still firing after it escalates.
  const last = input.attempts.filter((a) => countedStatuses.has(a.status)).at(-1);
  if (used >= input.maxAttempts && last?.status !== "succeeded") return exhausted;
  if (input.lastStart !== undefined && input.now - input.lastStart < input.cooldownMs) {
    const retryAt = input.lastStart + input.cooldownMs;
    return { action: "hold", gate: "cooldown", reason: `suppressed: cooldown, ${formatMs(retryAt - input.now)} left`, retryAt };
  }
  const rate = input.rateLimit;
  if (rate && rate.used >= rate.runs) {
    return {
      action: "hold",
      gate: "rateLimit",
      reason: `suppressed: rate limit, ${rate.used} runs of rule ${input.ruleName} in the last ${formatMs(rate.perMs)} (limit ${rate.runs})`,
      retryAt: input.now + Math.min(rate.perMs, 60_000),
    };
  }
  if (used >= input.maxAttempts) return exhausted;
  if (input.dryRun) return { action: "dry_run", reason: "dry-run: would run" };
  if (input.approval) return { action: "await_approval", reason: "waiting: approval required" };
  return { action: "run", reason: `remediation: attempt ${used + 1} of ${input.maxAttempts}` };
}
