import { relative } from "node:path";
import type { ConfigPath, LoadedConfig, Step, Workflow } from "../config/index.ts";
import { ExitCode, OpsError, isOpsError } from "../errors.ts";
import { configOptions, loadConfigFromOptions } from "./config-options.ts";
import type { CommandSpec, ParsedOptions } from "./options.ts";

export const validateSpec: CommandSpec = {
  name: "validate",
  description: "check opskit.yaml, its inventory sources, selectors and every expression; exit 0 valid, 65 invalid",
  argument: { name: "[workflows...]", description: "check only these workflows (default: all)" },
  options: configOptions,
};

/**
 * Loads everything a run would load and compiles everything a run would
 * compile, so that a config that validates does not fail at run time for a
 * reason visible in the files. The first problem is printed with its
 * file:line:col and exits 65.
 */
export async function validateCommand(positionals: string[], options: ParsedOptions): Promise<number> {
  const loaded = await loadConfigFromOptions(options);
  const { resolveInventory } = await import("../inventory/index.ts");
  const targets = await resolveInventory(loaded);
  const names = positionals.length > 0 ? positionals : Object.keys(loaded.config.workflows);
  const warnings: string[] = [];
  for (const name of names) {
    const workflow = loaded.config.workflows[name];
    if (!workflow) {
      const defined = Object.keys(loaded.config.workflows);
      throw new OpsError({ code: "E_NO_WORKFLOW", message: `no workflow "${name}"`, hint: defined.length > 0 ? `defined workflows: ${defined.join(", ")}` : "define one under workflows:", exitCode: ExitCode.usage });
    }
    await asConfigError(async () => {
      const matched = await checkTargets(loaded, name, workflow, targets);
      if (matched === 0) warnings.push(`warning: ${loaded.where(["workflows", name, "targets"])}: workflows.${name}.targets ${JSON.stringify(workflow.targets)} matches no hosts`);
      await checkExpressions(loaded, name, workflow);
      await compileLikeRun(loaded, name, workflow);
    });
  }
  // Rules and checks compile as `opskit serve` compiles them at start.
  const { compileChecks, compileRules } = await import("../heal/index.ts");
  const { parseDuration } = await import("../ui/index.ts");
  await asConfigError(async () => {
    await compileRules(loaded, parseDuration(loaded.config.defaults.stepTimeout ?? "5m", "defaults.stepTimeout"));
    await compileChecks(loaded.config.checks, (path) => `${loaded.where(path)}: ${path.join(".")}`);
  });
  if (warnings.length > 0) console.error(warnings.join("\n"));
  const files = loaded.files.map((file) => {
    const rel = relative(process.cwd(), file);
    return rel.startsWith("..") ? file : rel;
  });
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const { rules, checks } = loaded.config;
  console.log(`ok: ${plural(targets.length, "host")}, ${plural(names.length, "workflow")}, ${plural(rules.length, "rule")}, ${plural(checks.length, "check")} (${files.join(", ")}${loaded.environment ? `; env ${loaded.environment}` : ""})`);
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

async function checkTargets(loaded: LoadedConfig, name: string, workflow: Workflow, targets: Awaited<ReturnType<typeof import("../inventory/index.ts").resolveInventory>>): Promise<number> {
  if (workflow.targets === "local") return 1;
  const { parseSelector, matches } = await import("../inventory/index.ts");
  let selector: ReturnType<typeof parseSelector>;
  try {
    selector = parseSelector(workflow.targets);
  } catch (error) {
    if (!isOpsError(error)) throw error;
    throw new OpsError({ code: error.code, message: `${loaded.where(["workflows", name, "targets"])}: workflows.${name}.targets: ${error.message}`, hint: error.hint, exitCode: ExitCode.config });
  }
  return targets.filter((t) => matches(t, selector)).length;
}

/** Every step of a workflow, hooks included, with its path in the config. */
function stepsOf(name: string, workflow: Workflow): { step: Step; path: ConfigPath }[] {
  const lists: [ConfigPath, Step[]][] = [
    [["workflows", name, "steps"], workflow.steps],
    ...(Object.entries(workflow.hooks) as [string, Step[]][]).map(([hook, steps]): [ConfigPath, Step[]] => [["workflows", name, "hooks", hook], steps]),
  ];
  return lists.flatMap(([path, steps]) => steps.map((step, i) => ({ step, path: [...path, i] })));
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
    import("../config/index.ts"),
    import("../expr/index.ts"),
    import("../actions/index.ts"),
    import("../probe/index.ts"),
  ]);
  const at = (path: ConfigPath) => `${loaded.where(path)}: ${formatPath(path)}`;
  const expectations = async (expect: string | string[] | undefined, path: ConfigPath) => {
    await compileExpectations(list(expect), (i) => at(Array.isArray(expect) ? [...path, i] : path), expectationVariables);
  };
  for (const { step, path } of stepsOf(name, workflow)) {
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
async function compileLikeRun(loaded: LoadedConfig, name: string, workflow: Workflow): Promise<void> {
  const [{ compileWorkflow, configuredPolicy }, { parseDuration }] = await Promise.all([import("../engine/index.ts"), import("../ui/index.ts")]);
  const policy = await configuredPolicy(loaded);
  const compiled = await compileWorkflow(workflow, {
    name,
    baseDir: loaded.baseDir,
    defaultTimeoutMs: parseDuration(loaded.config.defaults.stepTimeout ?? "5m", "defaults.stepTimeout"),
    where: (path) => loaded.where(path),
    ...(policy ? { policy } : {}),
  });
  if (workflow.shadow) {
    // The compared step and the normalize patterns, as a shadowed run reads them.
    const { comparedStepIndex, compileNormalizers } = await import("../shadow/index.ts");
    comparedStepIndex(compiled, name, loaded);
    compileNormalizers(workflow.shadow.normalize, (i) => `${loaded.where(["workflows", name, "shadow", "normalize", i, "pattern"])}: workflows.${name}.shadow.normalize[${i}].pattern`, "config");
  }
}
