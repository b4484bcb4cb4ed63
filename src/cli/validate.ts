import { relative } from "node:path";
import type { LoadedConfig, Workflow } from "../config/index.ts";
import type { ConfigPath } from "../schema/index.ts";
import type { CompiledWorkflow, Problem } from "../engine/index.ts";
import type { Policy } from "../policy/index.ts";
import type { Target } from "../inventory/index.ts";
import { ExitCode, OpsError, isOpsError } from "../errors.ts";
import { configOptions, loadConfigFromOptions } from "./config-options.ts";
import { defineCommand, type OptionsOf } from "./options.ts";
import { outputOption } from "./output-format.ts";

/** The run-time checks; the engine is loaded only when validate runs. */
const loadPreflight = async () => (await import("../engine/index.ts")).loadPreflight();

export const validateSpec = defineCommand({
  name: "validate",
  description: "check opskit.yaml, its inventory sources, selectors and every expression, and what would fail only at run time (vars nothing gives, unset environment variables and secrets, permissions that deny every target); exit 0 valid, 65 invalid",
  argument: { name: "[workflows...]", description: "check only these workflows (default: all)" },
  options: { ...configOptions, json: { kind: "boolean", description: "the counts as one JSON object (problems: a JSON error on stderr)" }, ...outputOption },
  examples: [
    { text: "Check the current directory's config", command: "opskit validate" },
    { text: "One workflow, with the staging overlay", command: "opskit validate deploy -c ops/ --env staging" },
  ],
});

/**
 * Loads everything a run would load and compiles everything a run would
 * compile, so that a config that validates does not fail at run time for a
 * reason visible in the files. The first problem is printed with its
 * file:line:col and exits 65.
 */
export async function validateCommand(positionals: string[], options: OptionsOf<typeof validateSpec>): Promise<number> {
  const loaded = await loadConfigFromOptions(options);
  const { resolveInventory } = await import("../inventory/index.ts");
  const targets = await resolveInventory(loaded);
  const names = positionals.length > 0 ? positionals : Object.keys(loaded.config.workflows);
  const warnings: string[] = [];
  const problems: Problem[] = [];
  for (const name of names) {
    const workflow = loaded.config.workflows[name];
    if (!workflow) {
      const defined = Object.keys(loaded.config.workflows);
      throw new OpsError({ code: "E_NO_WORKFLOW", message: `no workflow "${name}"`, hint: defined.length > 0 ? `defined workflows: ${defined.join(", ")}` : "define one under workflows:", exitCode: ExitCode.usage });
    }
    await asConfigError(async () => {
      const matched = await checkTargets(loaded, name, workflow, targets);
      if (matched.length === 0) warnings.push(`warning: ${loaded.where(["workflows", name, "targets"])}: workflows.${name}.targets ${JSON.stringify(workflow.targets)} matches no hosts`);
      await checkExpressions(loaded, name, workflow);
      const { compiled, policy } = await compileLikeRun(loaded, name, workflow);
      problems.push(...(await checkWorkflow(loaded, name, compiled, policy, matched)));
    });
  }
  problems.push(...(await checkOutsideWorkflows(loaded, positionals.length === 0)));
  // Rules and checks compile as `opskit serve` compiles them at start.
  const { compileChecks, compileRules } = await import("../heal/index.ts");
  await asConfigError(async () => {
    await compileRules(loaded, loaded.defaults.stepTimeoutMs);
    await compileChecks(loaded.config.checks, (path) => `${loaded.where(path)}: ${path.join(".")}`, loaded.config.vars, loaded.baseDir);
    const { compileProbeModules } = await import("../server/index.ts");
    await compileProbeModules(loaded.config.probeModules ?? {}, (path) => `${loaded.where(path)}: ${path.join(".")}`, loaded.baseDir);
  });
  // agent: compiles as opskit agent compiles it at start: its sources against their kinds' schemas, its rules.
  const agent = loaded.config.agent ? await (await import("./agent.ts")).compileAgentConfig(loaded) : undefined;
  if (warnings.length > 0) console.error(warnings.join("\n"));
  if (problems.length > 0) {
    const { PreflightFailed } = await loadPreflight();
    throw new PreflightFailed(problems, loaded.files.map((file) => relative(process.cwd(), file) || file).join(", "), "fix each one where it points; opskit validate checks them all again");
  }
  const files = loaded.files.map((file) => {
    const rel = relative(process.cwd(), file);
    return rel.startsWith("..") ? file : rel;
  });
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const { rules, checks } = loaded.config;
  if (options.json) {
    const agentCounts = agent ? { agent: { sources: agent.sources.length, rules: agent.rules.length } } : {};
    console.log(JSON.stringify({ type: "valid", hosts: targets.length, workflows: names.length, rules: rules.length, checks: checks.length, ...agentCounts, files, env: loaded.environment ?? null, warnings }));
    return ExitCode.ok;
  }
  console.log(`ok: ${plural(targets.length, "host")}, ${plural(names.length, "workflow")}, ${plural(rules.length, "rule")}, ${plural(checks.length, "check")}${agent ? `, agent: ${plural(agent.sources.length, "source")} and ${plural(agent.rules.length, "rule")}` : ""} (${files.join(", ")}${loaded.environment ? `; env ${loaded.environment}` : ""})`);
  return ExitCode.ok;
}

/** Selector and CEL problems are usage errors where they come from the command line; in the config they make it invalid. */
async function asConfigError(check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (isOpsError(error) && error.exitCode === ExitCode.usage) {
      throw new OpsError({ code: error.code, message: error.message, hint: error.hint, exitCode: ExitCode.config, cause: error });
    }
    throw error;
  }
}

async function checkTargets(loaded: LoadedConfig, name: string, workflow: Workflow, targets: Target[]): Promise<Target[]> {
  const { parseSelector, matches, localTarget } = await import("../inventory/index.ts");
  if (workflow.targets === "local") return [localTarget];
  let selector: ReturnType<typeof parseSelector>;
  try {
    selector = parseSelector(workflow.targets);
  } catch (error) {
    if (!isOpsError(error)) throw error;
    throw new OpsError({ code: error.code, message: `${loaded.where(["workflows", name, "targets"])}: workflows.${name}.targets: ${error.message}`, hint: error.hint, exitCode: ExitCode.config });
  }
  return targets.filter((t) => matches(t, selector));
}

const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * Compiles each `when`, `until` and `expect` on its own so that an error
 * names the expression's own file:line:col, with the names a run provides:
 * `when` sees vars, target, env and steps; `until` also the polled result;
 * `expect` the probe result, as in opskit probe.
 */
async function checkExpressions(loaded: LoadedConfig, name: string, workflow: Workflow): Promise<void> {
  const [{ formatPath }, { compileExpectations, compileExpression }, { scopeVariables, resultVariables }, { expectationVariables }] = await Promise.all([
    import("../schema/index.ts"),
    import("../expr/index.ts"),
    import("../actions/index.ts"),
    import("../probe/index.ts"),
  ]);
  const at = (path: ConfigPath) => `${loaded.where(path)}: ${formatPath(path)}`;
  const expectations = async (expect: string | string[] | undefined, path: ConfigPath) => {
    await compileExpectations(list(expect), (i) => at(Array.isArray(expect) ? [...path, i] : path), expectationVariables);
  };
  const { stepsOf } = await loadPreflight();
  for (const { step, path } of stepsOf(["workflows", name], workflow)) {
    if (step.when) await compileExpression(step.when, at([...path, "when"]), scopeVariables);
    if (step.wait) await compileExpression(step.wait.until, at([...path, "wait", "until"]), [...scopeVariables, ...resultVariables]);
    const polled: { at: ConfigPath; http?: { expect?: string | string[] }; probe?: string | { expect?: string | string[] } }[] = [
      { at: path, http: step.http, probe: step.probe },
      { at: [...path, "wait"], http: step.wait?.http, probe: step.wait?.probe },
    ];
    for (const { at, http, probe } of polled) {
      if (http) await expectations(http.expect, [...at, "http", "expect"]);
      if (probe && typeof probe === "object") await expectations(probe.expect, [...at, "probe", "expect"]);
    }
  }
}

/** What `opskit run` compiles before it touches a host: templates, actions, timeouts. */
async function compileLikeRun(loaded: LoadedConfig, name: string, workflow: Workflow): Promise<{ compiled: CompiledWorkflow; policy: Policy | undefined }> {
  const [{ compileConfigWorkflow }, { configuredPolicy }] = await Promise.all([import("../runs/index.ts"), import("../policy/index.ts")]);
  const policy = await configuredPolicy(loaded);
  const compiled = await compileConfigWorkflow(loaded, name, policy);
  if (workflow.shadow) {
    // The compared step and the normalize patterns, as a shadowed run reads them.
    const { comparedStepIndex, compileNormalizers } = await import("../shadow/index.ts");
    comparedStepIndex(compiled, name, loaded);
    compileNormalizers(workflow.shadow.normalize, (i) => `${loaded.where(["workflows", name, "shadow", "normalize", i, "pattern"])}: workflows.${name}.shadow.normalize[${i}].pattern`, "config");
  }
  return { compiled, policy };
}

/**
 * What would fail only at run time: vars that nothing declares (a rule that
 * runs the workflow declares the ones it gives), environment variables and
 * secrets that are not set, permissions that deny every target. A var
 * declared with no value (`version: ~`) is a parameter each run gives.
 */
async function checkWorkflow(loaded: LoadedConfig, name: string, compiled: CompiledWorkflow, policy: Policy | undefined, targets: Target[]): Promise<Problem[]> {
  const [{ checkSteps, checkTargetsAllowed, stepsOf }, { toRunTarget }] = await Promise.all([loadPreflight(), import("../engine/index.ts")]);
  const { config } = loaded;
  const workflow = compiled.workflow;
  const fromRules = config.rules.filter((rule) => rule.run === name).flatMap((rule) => Object.keys(rule.vars));
  const defined = new Set([...Object.keys(config.vars), ...Object.keys(workflow.vars), ...fromRules]);
  const hint = (field: string) => {
    const overlays = Object.entries(config.environments).filter(([env, overlay]) => env !== loaded.environment && overlay.vars && field in overlay.vars).map(([env]) => env);
    if (overlays.length > 0) return `${field} is declared only under environments (${overlays.join(", ")}): validate and run with --env ${overlays[0]}, or declare a default under vars:`;
    return `declare it under workflows.${name}.vars with a default (${field}: "..."), or with no value (${field}: ~) to make it a parameter every run gives with --var ${field}=...`;
  };
  const path = ["workflows", name];
  const where = (at: (string | number)[]) => loaded.where(at);
  return [
    ...(await checkSteps({ steps: stepsOf(path, workflow), where, vars: { defined, required: new Set(), hint }, env: process.env })),
    ...(await checkTargetsAllowed({ name, workflow, path, where, guard: compiled.steps[0]?.guard, policy, targets: targets.map(toRunTarget) })),
  ];
}

/** Secrets and environment variables read outside workflows: rules' escalation steps; with the whole config, the server's tokens. */
async function checkOutsideWorkflows(loaded: LoadedConfig, whole: boolean): Promise<Problem[]> {
  const { checkSteps } = await loadPreflight();
  const { config } = loaded;
  const steps = config.rules.flatMap((rule, r) => rule.escalate.map((step, i) => ({ step, path: ["rules", r, "escalate", i] as (string | number)[] })));
  const problems = await checkSteps({ steps, where: (at) => loaded.where(at), env: process.env });
  if (!whole) return problems;
  const { resolveSecret } = await import("../schema/index.ts");
  for (const key of ["token", "webhookToken"] as const) {
    const reference = config.server[key];
    if (reference === undefined) continue;
    await resolveSecret(reference, `server.${key}`).catch((error: unknown) => {
      if (!isOpsError(error)) throw error;
      problems.push({ code: error.code, where: loaded.where(["server", key]), message: error.message, hint: error.hint ?? "set it before opskit serve starts" });
    });
  }
  return problems;
}
