import { resolve as resolvePath } from "node:path";
import type { EnvironmentBase } from "../../actions/index.ts";
import type { LoadedConfig, Workflow } from "../../config/index.ts";
import { loadConfigFromOptions } from "../config-options.ts";
import { compileWorkflow, configuredPolicy, executeRun, fanOut, journalSink, openRemotes, toRunTarget, type CompiledWorkflow, type EventSink, type Policy, type PriorProgress } from "../../engine/index.ts";
import { ExitCode, OpsError, usageError } from "../../errors.ts";
import { resolveTargets, type Target } from "../../inventory/index.ts";
import { journalLocation, newRunId, openJournal, type RunParams } from "../../journal/index.ts";
import { jsonLine, LineWriter, paletteFor, parseDuration, stdoutIsTerminal } from "../../ui/index.ts";
import type { ParsedOptions } from "../options.ts";
import { parseVarOptions } from "../vars.ts";
import { checkBeforeRun, printPlan } from "./plan.ts";
import { terminalRunSink } from "./terminal.ts";

const DEFAULT_STEP_TIMEOUT = "5m";
const MAX_OUTPUT_BYTES = 64 * 1024;

/** A run about to start: everything resolved, nothing touched yet. */
export interface PreparedRun {
  kind: "workflow" | "exec";
  name: string;
  loaded: LoadedConfig;
  compiled: CompiledWorkflow;
  targets: Target[];
  vars: Record<string, unknown>;
  params: RunParams;
  /** The org policy the run is under, for messages that point into its file. */
  policy?: Policy;
  /** What commands on the local target start from: the minimal base unless the run stands in for its caller (wrap). */
  localEnvironment?: EnvironmentBase;
}

const policyOption = (options: ParsedOptions) => (typeof options.policy === "string" ? options.policy : undefined);
/** Recorded in the run's params as an absolute path, so that a resume applies the same policy. */
const policyParam = (options: ParsedOptions) => {
  const path = policyOption(options);
  return path ? { policy: resolvePath(process.cwd(), path) } : {};
};

async function prepareWorkflow(name: string, options: ParsedOptions): Promise<PreparedRun> {
  const cwd = process.cwd();
  const loaded = await loadConfigFromOptions(options);
  const workflow = loaded.config.workflows[name];
  if (!workflow) {
    const names = Object.keys(loaded.config.workflows);
    throw usageError("E_NO_WORKFLOW", `no workflow "${name}" in ${loaded.files.join(", ")}`, names.length > 0 ? `defined workflows: ${names.join(", ")}` : "define one under workflows: in opskit.yaml");
  }
  const limit = options.limit ? String(options.limit) : undefined;
  const targets = await resolveTargets(loaded, workflow.targets, limit, loaded.where(["workflows", name, "targets"]));
  const vars = { ...loaded.config.vars, ...workflow.vars, ...parseVarOptions(options) };
  const policy = await configuredPolicy(loaded, policyOption(options));
  const compiled = await compileWorkflow(workflow, {
    name,
    baseDir: loaded.baseDir,
    defaultTimeoutMs: parseDuration(loaded.config.defaults.stepTimeout ?? DEFAULT_STEP_TIMEOUT, "defaults.stepTimeout"),
    where: (path) => loaded.where(path),
    ...(policy ? { policy } : {}),
  });
  return {
    kind: "workflow",
    name,
    loaded,
    compiled,
    targets,
    vars,
    ...(policy ? { policy } : {}),
    params: {
      configFiles: loaded.files,
      ...(options.config ? { configPath: String(options.config) } : {}),
      cwd,
      workflow: name,
      ...(options.env ? { env: String(options.env) } : {}),
      ...(limit ? { limit } : {}),
      vars,
      dryRun: options.dryRun === true,
      ...policyParam(options),
    },
  };
}

async function prepareExec(args: string[], options: ParsedOptions): Promise<PreparedRun> {
  const [selector, ...words] = args;
  if (!selector || words.length === 0) throw usageError("E_USAGE_EXEC", "exec needs a selector and a command", "e.g. opskit exec 'role=web' -- systemctl is-active nginx");
  const command = words.join(" ");
  const cwd = process.cwd();
  const loaded = await loadConfigFromOptions(options);
  const targets = await resolveTargets(loaded, selector, undefined, "opskit exec");
  const concurrency = Number(options.concurrency ?? loaded.config.defaults.concurrency ?? 32);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw usageError("E_USAGE_OPTION", `invalid --concurrency "${options.concurrency}"`, "use a whole number of 1 or more");
  const timeout = String(options.timeout ?? "5m");
  const timeoutMs = parseDuration(timeout, "--timeout");
  // The ad-hoc form is a one-step workflow: same engine, same output, same journal.
  const workflow: Workflow = {
    targets: selector,
    vars: {},
    strategy: { parallel: { concurrency } },
    hooks: { pre: [], post: [], on_failure: [], rollback: [] },
    steps: [{ name: "command", ssh: command, timeout, continueOnError: false }],
  };
  const policy = await configuredPolicy(loaded, policyOption(options));
  const compiled = await compileWorkflow(workflow, { name: "exec", baseDir: loaded.baseDir, defaultTimeoutMs: timeoutMs, where: () => "command", adHoc: true, ...(policy ? { policy } : {}) });
  const vars = { ...loaded.config.vars };
  return {
    kind: "exec",
    name: command,
    loaded,
    compiled,
    targets,
    vars,
    ...(policy ? { policy } : {}),
    params: { configFiles: loaded.files, ...(options.config ? { configPath: String(options.config) } : {}), cwd, command, selector, vars, dryRun: options.dryRun === true, concurrency, ...policyParam(options) },
  };
}

/** Worst first: interrupted, then unreachable (1), then failed steps (2). */
function exitFor(counts: { failed: number; unreachable: number; notStarted: number }, status: string): number {
  if (status === "interrupted") return ExitCode.interrupted;
  if (counts.unreachable > 0) return ExitCode.transport;
  if (counts.failed > 0 || status === "failed") return ExitCode.check;
  return ExitCode.ok;
}

/** Runs a prepared run with its sinks, journal, SSH pool and Ctrl-C handling. */
export async function startRun(prepared: PreparedRun, options: ParsedOptions, extra: { resumedFrom?: string; owedRollback?: Target[]; progress?: PriorProgress } = {}): Promise<number> {
  const out = new LineWriter();
  if (prepared.params.dryRun) {
    await checkBeforeRun(prepared, options, true);
    printPlan(prepared, out, options.json === true);
    out.flush();
    return ExitCode.ok;
  }
  const journal = await openJournal(journalLocation(options.journal ? String(options.journal) : undefined));
  const runId = newRunId();
  // A workflow's shadow declaration: the legacy command beside a share of runs, or in place of the compared step once fallen back.
  const shadow = prepared.kind === "workflow" && prepared.compiled.workflow.shadow
    ? (await import("../../shadow/index.ts")).shadowRun(prepared.compiled, { name: prepared.name, runId, journal, loaded: prepared.loaded, maxOutputBytes: MAX_OUTPUT_BYTES })
    : undefined;
  journal.startRun({ id: runId, kind: prepared.kind, name: prepared.name, params: prepared.params, ...(extra.resumedFrom ? { resumedFrom: extra.resumedFrom } : {}) });

  const terminal = options.json ? false : stdoutIsTerminal();
  const palette = paletteFor({ isTTY: terminal });
  const display: EventSink = options.json
    ? (event) => {
        if (event.type !== "step.output" || options.stream) out.line(jsonLine(event));
      }
    : terminalRunSink(out, {
        palette,
        stream: options.stream === true,
        foldOutput: prepared.kind === "exec",
        journalLocation: journal.location,
        ...(terminal ? { progress: (text: string) => process.stderr.write(text) } : {}),
      });

  const controller = new AbortController();
  const hard = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      console.error("\nopskit: interrupted; stopping new targets, cancelling steps, rolling back where configured (Ctrl-C again to quit at once)");
      controller.abort(new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
    } else {
      hard.abort();
      out.flush();
      process.exit(ExitCode.interrupted);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const shadowNote = (note: { message: string }) => out.line(options.json ? JSON.stringify(note) : palette.yellow(`shadow: ${note.message}`));
  shadow?.notes.forEach(shadowNote);

  const { steps, hooks } = prepared.compiled;
  const commandSteps = [...hooks.pre, ...steps, ...hooks.post, ...hooks.on_failure, ...hooks.rollback].filter((s) => s.kind === "ssh" || s.kind === "script");
  // Retries and waits run a command more than once: only a single plain step counts as one command.
  const single = commandSteps.length === 1 && commandSteps[0]!.attempts === 1 && !commandSteps.some((s) => s.kind === "script");
  const remotes = await openRemotes(prepared.loaded, prepared.targets, single ? 1 : Number.POSITIVE_INFINITY, prepared.localEnvironment);
  try {
    const outcome = await executeRun({
      runId,
      kind: prepared.kind,
      name: prepared.name,
      compiled: shadow?.compiled ?? prepared.compiled,
      targets: prepared.targets.map(toRunTarget),
      vars: prepared.vars,
      connect: (target, signal) => remotes.connect(target.name, signal),
      baseDir: prepared.loaded.baseDir,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      stream: options.stream === true,
      signal: controller.signal,
      hardSignal: hard.signal,
      emit: fanOut([journalSink(journal), display]),
      ...(extra.owedRollback ? { owedRollback: extra.owedRollback.map(toRunTarget) } : {}),
      ...(extra.progress ? { progress: extra.progress } : {}),
    });
    shadow?.finish().forEach(shadowNote);
    if (!options.json) out.line(palette.dim(`journal: ${journal.location} (opskit runs show ${runId})`));
    return exitFor(outcome.counts, outcome.status);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    out.flush();
    await remotes.close();
    journal.close();
  }
}

export async function runCommand(args: string[], options: ParsedOptions): Promise<number> {
  const name = args[0];
  if (!name) throw usageError("E_USAGE_RUN", "run needs a workflow name", "e.g. opskit run deploy-api; opskit validate lists problems in the config");
  const prepared = await prepareWorkflow(name, options);
  // Vars are checked before every run: a var nothing gives would fail a step, or make a `when` skip it, halfway through.
  if (!prepared.params.dryRun) await checkBeforeRun(prepared, options, false);
  return startRun(prepared, options);
}

export async function execCommand(args: string[], options: ParsedOptions): Promise<number> {
  return startRun(await prepareExec(args, options), options);
}

export { prepareExec, prepareWorkflow };
