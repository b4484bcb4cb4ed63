// Self-healing: alerts from Alertmanager, generic webhooks and opskit's own
// checks become incidents; rules run remediation workflows behind safety
// gates, verify recovery and escalate; every decision lands on the incident.
export { parseAlertmanagerPayload, parseGenericPayload, alertFingerprint, type Alert } from "./alert.ts";
export { compileChecks, startChecks, type CheckScheduler, type CheckState } from "./checks.ts";
export type { HealEvent, HealSink } from "./events.ts";
export { decide, type GateDecision, type GateInput } from "./gates.ts";
export { Healer, alertsOf, type HealerOptions } from "./healer.ts";
export { compileRules, matchRule, ruleVariables, type CompiledRule } from "./rules.ts";
