// Self-healing: alerts from the sources in sources/ (Alertmanager, generic
// webhooks, Grafana, opskit's own checks) become incidents; rules run
// remediation workflows behind safety gates, verify recovery and escalate;
// every decision is a heal event, and the incident timeline is one of its sinks.
export { alertFingerprint, type Alert } from "./alert.ts";
export { alertSource, alertSources, alertsOf, parseAlertmanagerPayload, parseGenericPayload, parseGrafanaPayload, type AlertSource } from "./sources/index.ts";
export { compileChecks, HISTORY_SIZE, shownTarget, startChecks, type CheckDetail, type CheckResultPoint, type CheckScheduler, type CheckState } from "./checks.ts";
export type { HealEvent, HealSink } from "./events.ts";
export { decide, type GateDecision, type GateInput } from "./gates.ts";
export { Healer, type HealerOptions } from "./healer.ts";
export { remediationKey, type RemediationJob } from "./remediations.ts";
export { compileRules, matchRule, ruleVariables, type CompiledRule } from "./rules.ts";
export { lineOf, timelineSink, type Timeline } from "./timeline.ts";
export { formatMatcher, formatMatchers, matcherHolds, matchersFromArgs, parseMatchers, silenceMatches, silenceState, silenceListed, newSilence, validateMatchers, type SilenceInput, type SilenceState } from "./silences.ts";
export { incidentTraceSink, type IncidentTraceOptions } from "./trace-sink.ts";
