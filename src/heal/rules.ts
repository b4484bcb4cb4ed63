import type { LoadedConfig, Rule } from "../config/index.ts";
import { compileWorkflow, type CompiledWorkflow } from "../engine/index.ts";
import { configuredPolicy, type Policy } from "../policy/index.ts";
import { configError } from "../errors.ts";
import { celTimestamp, compileExpectations, compileExpression, compileTemplate, type Expectation, type Expression, type Template } from "../expr/index.ts";
import type { IncidentRecord } from "../journal/index.ts";
import { expectationVariables } from "../probe/index.ts";
import { adHocWorkflow, compileConfigWorkflow } from "../runs/index.ts";
import { parseDuration } from "../time/index.ts";
import type { Alert } from "./alert.ts";

/** Names a rule's `when`, `targets` and `vars` may use. */
export const ruleVariables = ["alert", "incident"] as const;

export type VerifyPlan =
  | { kind: "alertResolved"; timeoutMs: number }
  | { kind: "probe"; url: string; expectations: Expectation[]; timeoutMs: number; intervalMs: number };

/** A rule ready to match alerts: regexes, CEL and templates compiled, its workflow compiled. */
export interface CompiledRule {
  rule: Rule;
  name: string;
  matches(alert: Alert): boolean;
  /** The selector narrowing the workflow's targets, rendered for an incident. */
  targets?: Template;
  vars: [string, Template][];
  workflow: CompiledWorkflow;
  cooldownMs: number;
  rateLimit?: { runs: number; perMs: number };
  verify?: VerifyPlan;
  /** Steps run on escalation, as a workflow on this machine. */
  escalation?: CompiledWorkflow;
}

/** The `alert` and `incident` values rule templates and CEL see. */
export function ruleScope(alert: Pick<Alert, "labels" | "annotations" | "fingerprint" | "status" | "source" | "startsAt">, incident?: IncidentRecord): Record<string, unknown> {
  return {
    alert: {
      labels: alert.labels,
      annotations: alert.annotations,
      fingerprint: alert.fingerprint,
      status: alert.status,
      source: alert.source,
      startsAt: celTimestamp(new Date(alert.startsAt)),
    },
    incident: incident ? { id: BigInt(incident.id), title: incident.title, attempts: BigInt(incident.attempts) } : { id: 0n, title: "", attempts: 0n },
  };
}

function compileRegexes(matchRe: Record<string, string>, where: string): [string, RegExp][] {
  return Object.entries(matchRe).map(([label, source]) => {
    try {
      // Anchored, as Alertmanager's matchers are.
      return [label, new RegExp(`^(?:${source})$`)];
    } catch (error) {
      throw configError("E_CONFIG_REGEX", `${where}.matchRe.${label}: invalid regular expression: ${(error as Error).message}`, "write a JavaScript regular expression; it must match the whole label value");
    }
  });
}

async function compileRule(rule: Rule, index: number, loaded: LoadedConfig, defaultTimeoutMs: number, policy: Policy | undefined): Promise<CompiledRule> {
  const at = (...path: (string | number)[]) => loaded.where(["rules", index, ...path]);
  const workflow = loaded.config.workflows[rule.run];
  if (!workflow) {
    const names = Object.keys(loaded.config.workflows);
    throw configError("E_RULE_WORKFLOW", `${at("run")}: rule "${rule.name}" runs workflow "${rule.run}", which is not defined`, names.length > 0 ? `defined workflows: ${names.join(", ")}` : "define it under workflows:");
  }
  const regexes = compileRegexes(rule.matchRe, at());
  const when: Expression | undefined = rule.when ? await compileExpression(rule.when, at("when"), ruleVariables) : undefined;
  const equal = Object.entries(rule.match);
  const compiled: CompiledRule = {
    rule,
    name: rule.name,
    matches(alert) {
      if (!equal.every(([label, value]) => alert.labels[label] === value)) return false;
      if (!regexes.every(([label, re]) => re.test(alert.labels[label] ?? ""))) return false;
      if (!when) return true;
      const result = when.evaluate(ruleScope(alert));
      return result.ok && result.value === true;
    },
    vars: await Promise.all(Object.entries(rule.vars).map(async ([name, text]) => [name, await compileTemplate(text, at("vars", name), ruleVariables)] as [string, Template])),
    workflow: await compileConfigWorkflow(loaded, rule.run, policy),
    cooldownMs: parseDuration(rule.cooldown, at("cooldown")),
  };
  if (rule.targets) compiled.targets = await compileTemplate(rule.targets, at("targets"), ruleVariables);
  if (rule.rateLimit) compiled.rateLimit = { runs: rule.rateLimit.runs, perMs: parseDuration(rule.rateLimit.per, at("rateLimit", "per")) };
  if (rule.verify) {
    const timeoutMs = parseDuration(rule.verify.timeout, at("verify", "timeout"));
    if (rule.verify.probe !== undefined) {
      const probe = typeof rule.verify.probe === "string" ? { url: rule.verify.probe } : rule.verify.probe;
      const sources = probe.expect === undefined ? [] : Array.isArray(probe.expect) ? probe.expect : [probe.expect];
      compiled.verify = {
        kind: "probe",
        url: probe.url,
        expectations: await compileExpectations(sources, (i) => at("verify", "probe", "expect", i), expectationVariables),
        timeoutMs,
        intervalMs: parseDuration(rule.verify.interval, at("verify", "interval")),
      };
    } else {
      compiled.verify = { kind: "alertResolved", timeoutMs };
    }
  }
  if (rule.escalate.length > 0) {
    compiled.escalation = await compileWorkflow(
      adHocWorkflow(rule.escalate, { targets: "local", concurrency: 1 }),
      { name: `escalate-${rule.name}`, baseDir: loaded.baseDir, defaultTimeoutMs, where: (path) => at("escalate", ...path.slice(3)), adHoc: true, ...(policy ? { policy } : {}) },
    );
  }
  return compiled;
}

/**
 * Compiles every rule; a bad regex, expression, template, workflow name or
 * policy file fails before the server starts. The policy is `policyPath`
 * (--policy), else the config's `policy:`.
 */
export async function compileRules(loaded: LoadedConfig, defaultTimeoutMs: number, policyPath?: string): Promise<CompiledRule[]> {
  const policy = await configuredPolicy(loaded, policyPath);
  return Promise.all(loaded.config.rules.map((rule, i) => compileRule(rule, i, loaded, defaultTimeoutMs, policy)));
}

/** The first rule that matches, in config order. */
export function matchRule(rules: readonly CompiledRule[], alert: Alert): CompiledRule | undefined {
  return rules.find((rule) => rule.matches(alert));
}

/** The alert an incident came from, as rule templates see it. */
export function alertOfIncident(incident: IncidentRecord): Alert {
  return { source: incident.source, fingerprint: incident.fingerprint, status: "firing", labels: incident.labels, annotations: incident.annotations, startsAt: incident.milestones.started ?? Date.now() };
}
