import type { LoadedConfig, Rule } from "../config/index.ts";
import { compileWorkflow, type CompiledWorkflow } from "../engine/index.ts";
import { configuredPolicy, type Policy } from "../policy/index.ts";
import { configError } from "../errors.ts";
import { promqlTargetOf, type PromqlTargetSpec } from "../actions/index.ts";
import { celTimestamp, compileExpectations, compileExpression, compileTemplate, type Expectation, type Expression, type Template, type VariableTypes } from "../expr/index.ts";
import type { IncidentRecord } from "../journal/index.ts";
import { expectationVariables, parseTarget, promqlTargetUrl, type PromqlSeries } from "../probe/index.ts";
import { adHocWorkflow, compileConfigWorkflow } from "../runs/index.ts";
import { parseDuration } from "../time/index.ts";
import type { Alert } from "./alert.ts";

/** Names a rule's `when`, `targets` and `vars` may use. */
export const ruleVariables = ["alert", "incident"] as const;

/**
 * How a remediation is verified. A probe (a URL, or a PromQL query rendered
 * for the incident) is polled until its expectations have held for `holdMs`
 * without a break (0: the first pass).
 */
export type VerifyPlan =
  | { kind: "alertResolved"; timeoutMs: number }
  | { kind: "probe"; target(incident: IncidentRecord): string; shown: string; expectations: Expectation[]; timeoutMs: number; intervalMs: number; holdMs: number };

/** A rule's PromQL query, rendered for an alert (values escaped for PromQL) into the promql+http(s) URL form. */
export interface RuleQuery {
  target(alert: Alert): string;
  timeoutMs: number;
}

/** What a rule's query answered for an alert: its series, or why there are none. */
export type QueryAnswer = { ok: true; result: PromqlSeries[]; resultType: string } | { ok: false; error: string };

/** Why a rule with a query did or did not match an alert, for the incident's timeline. */
export interface RuleQueryNote {
  rule: string;
  outcome: "matched" | "unmatched" | "failed";
  detail: string;
}

const RULE_QUERY_TIMEOUT_MS = 10_000;

/** A rule ready to match alerts: regexes, CEL and templates compiled, its workflow compiled. */
export interface CompiledRule {
  rule: Rule;
  name: string;
  /** Whether the alert passes `match`, `matchRe` and, for a rule with a query, `when` over the query's answer. */
  matches(alert: Alert, answer?: QueryAnswer): boolean;
  /** Whether the alert passes `match` and `matchRe`: a rule's query runs only for such alerts. */
  labelsMatch(alert: Alert): boolean;
  query?: RuleQuery;
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
  const query = rule.promql ? await compileRuleQuery(rule.promql, (...path) => at("promql", ...path)) : undefined;
  const when: Expression | undefined = rule.when ? await compileExpression(rule.when, at("when"), query ? queryVariables : ruleVariables) : undefined;
  const equal = Object.entries(rule.match);
  const labelsMatch = (alert: Alert) => equal.every(([label, value]) => alert.labels[label] === value) && regexes.every(([label, re]) => re.test(alert.labels[label] ?? ""));
  const compiled: CompiledRule = {
    rule,
    name: rule.name,
    labelsMatch,
    matches(alert, answer) {
      if (!labelsMatch(alert)) return false;
      // A rule whose query did not answer does not match (decideRule says why).
      if (query && !answer?.ok) return false;
      if (!when) return true;
      const result = when.evaluate({ ...ruleScope(alert), ...(answer?.ok ? { result: answer.result, resultType: answer.resultType } : {}) });
      return result.ok && result.value === true;
    },
    ...(query ? { query } : {}),
    vars: await Promise.all(Object.entries(rule.vars).map(async ([name, text]) => [name, await compileTemplate(text, at("vars", name), ruleVariables)] as [string, Template])),
    workflow: await compileConfigWorkflow(loaded, rule.run, policy),
    cooldownMs: parseDuration(rule.cooldown, at("cooldown")),
  };
  if (rule.targets) compiled.targets = await compileTemplate(rule.targets, at("targets"), ruleVariables);
  if (rule.rateLimit) compiled.rateLimit = { runs: rule.rateLimit.runs, perMs: parseDuration(rule.rateLimit.per, at("rateLimit", "per")) };
  if (rule.verify) compiled.verify = await compileVerify(rule.verify, at);
  if (rule.escalate.length > 0) {
    compiled.escalation = await compileWorkflow(
      adHocWorkflow(rule.escalate, { targets: "local", concurrency: 1 }),
      { name: `escalate-${rule.name}`, baseDir: loaded.baseDir, defaultTimeoutMs, where: (path) => at("escalate", ...path.slice(3)), adHoc: true, ...(policy ? { policy } : {}) },
    );
  }
  return compiled;
}

/** The names a rule's `when` may use when the rule has a query: the alert's, and the query's answer as a probe's expectations see it. */
const queryVariables: VariableTypes = { alert: "dyn", incident: "dyn", result: expectationVariables.result!, resultType: "string" };

/**
 * A rule's (or a verification's) query: its url and query are templates over
 * the alert and incident, the query's values escaped for PromQL; the URL form
 * is checked now, with a stand-in query, so a bad url or range fails at load.
 */
async function compileQueryTarget(spec: PromqlTargetSpec, at: (...path: string[]) => string): Promise<(scope: Record<string, unknown>) => string> {
  const url = await compileTemplate(spec.url, at("url"), ruleVariables, "url");
  const query = await compileTemplate(spec.query, at("query"), ruleVariables, "promql");
  parseTarget(promqlTargetUrl(promqlTargetOf(spec, url.constant ? spec.url : "http://127.0.0.1", "vector(1)")), at());
  return (scope) => promqlTargetUrl(promqlTargetOf(spec, url.render(scope, "url"), query.render(scope, "promql")));
}

async function compileRuleQuery(spec: PromqlTargetSpec, at: (...path: string[]) => string): Promise<RuleQuery> {
  const render = await compileQueryTarget(spec, at);
  return { target: (alert) => render(ruleScope(alert)), timeoutMs: spec.timeout === undefined ? RULE_QUERY_TIMEOUT_MS : parseDuration(spec.timeout, at("timeout")) };
}

type Verify = NonNullable<Rule["verify"]>;

async function compileVerify(verify: Verify, at: (...path: (string | number)[]) => string): Promise<VerifyPlan> {
  const timeoutMs = parseDuration(verify.timeout, at("verify", "timeout"));
  const intervalMs = parseDuration(verify.interval, at("verify", "interval"));
  const holdMs = verify.for === undefined ? 0 : parseDuration(verify.for, at("verify", "for"));
  const expectationsOf = (expect: string | string[] | undefined, kind: string) =>
    compileExpectations(expect === undefined ? [] : Array.isArray(expect) ? expect : [expect], (i) => at("verify", kind, "expect", i), expectationVariables);
  if (verify.promql !== undefined) {
    const render = await compileQueryTarget(verify.promql, (...path) => at("verify", "promql", ...path));
    const shown = `promql ${JSON.stringify(verify.promql.query)}`;
    return { kind: "probe", target: (incident) => render(ruleScope(alertOfIncident(incident), incident)), shown, expectations: await expectationsOf(verify.promql.expect, "promql"), timeoutMs, intervalMs, holdMs };
  }
  if (verify.probe !== undefined) {
    const probe = typeof verify.probe === "string" ? { url: verify.probe } : verify.probe;
    return { kind: "probe", target: () => probe.url, shown: `probe ${probe.url}`, expectations: await expectationsOf(probe.expect, "probe"), timeoutMs, intervalMs, holdMs };
  }
  return { kind: "alertResolved", timeoutMs };
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
  return decideRule(rules, alert).rule;
}

/** The key of a rule's answer for an alert (see answerRuleQueries). */
export const answerKey = (rule: string, fingerprint: string) => `${rule}\u0000${fingerprint}`;

/**
 * The first rule that matches, in config order, with what the rules with a
 * query that were tried said: a query that failed (or was not run for this
 * alert) means its rule does not match. `answers` holds the queries' answers
 * by answerKey, run before the decision's transaction (answerRuleQueries).
 */
export function decideRule(rules: readonly CompiledRule[], alert: Alert, answers?: ReadonlyMap<string, QueryAnswer>): { rule?: CompiledRule; notes: RuleQueryNote[] } {
  const notes: RuleQueryNote[] = [];
  for (const rule of rules) {
    if (!rule.query) {
      if (rule.matches(alert)) return { rule, notes };
      continue;
    }
    if (!rule.labelsMatch(alert)) continue;
    const answer = answers?.get(answerKey(rule.name, alert.fingerprint)) ?? { ok: false as const, error: "its query was not run for this alert" };
    if (!answer.ok) {
      notes.push({ rule: rule.name, outcome: "failed", detail: `rule ${rule.name} does not match: its query failed: ${answer.error}` });
      continue;
    }
    const matched = rule.matches(alert, answer);
    const series = `the query returned ${answer.result.length} series`;
    notes.push({ rule: rule.name, outcome: matched ? "matched" : "unmatched", detail: matched ? `rule ${rule.name} matches: ${series} and its when holds` : `rule ${rule.name} does not match: ${series} and its when does not hold` });
    if (matched) return { rule, notes };
  }
  return { notes };
}

/** The alert an incident came from, as rule templates see it. */
export function alertOfIncident(incident: IncidentRecord): Alert {
  return { source: incident.source, fingerprint: incident.fingerprint, status: "firing", labels: incident.labels, annotations: incident.annotations, startsAt: incident.milestones.started ?? Date.now() };
}
