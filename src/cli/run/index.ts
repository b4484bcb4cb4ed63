import type { EventSink, PriorProgress, RunEvent } from "../../engine/index.ts";
import { ExitCode, OpsError, usageError } from "../../errors.ts";
import type { Target } from "../../inventory/index.ts";
import { openJournal } from "../../journal/index.ts";
import { commandJournal } from "../journal-options.ts";
import { prepareExec, prepareWorkflow, startJournaledRun, type ApplyShadow, type PreparedRun, type RunNote, type RunOrigin } from "../../runs/index.ts";
import { jsonLinesSink, LineWriter, paletteFor, stdoutIsTerminal } from "../../ui/index.ts";
import { configPath, loadConfigFromOptions, loadConfigIfAny } from "../config-options.ts";
import type { OptionsOf, OptionValues } from "../options.ts";
import { parseVarOptions, type VarOptions } from "../vars.ts";
import { checkBeforeRun, printPlan } from "./plan.ts";
import type { execSpec, outputOptions, runSpec } from "./spec.ts";
import { terminalRunSink } from "./terminal.ts";
import { describeTargets, verboseTrace } from "./verbose.ts";
import { callerTrace, runTraceSinkOf, startCommandTracing } from "../trace-options.ts";

/** What startRun reads: how the run is shown and recorded, and for a dry run the vars given. */
export type StartOptions = OptionValues<typeof outputOptions> & VarOptions;

/** -c, --env, --policy and --dry-run: recorded with the run, so that a resume finds the same config and policy. */
export function runOrigin(options: { config?: string | undefined; env?: string | undefined; policy?: string | undefined; dryRun?: boolean }): RunOrigin {
  return {
    ...(configPath(options) ? { configPath: configPath(options) } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.policy !== undefined ? { policyPath: options.policy } : {}),
    dryRun: options.dryRun ?? false,
  };
}

/** A workflow's `shadow:` declaration applies to every run the CLI starts; shadow/ loads only for a workflow that has one. */
export const applyShadow: ApplyShadow = async (compiled, options) => (await import("../../shadow/index.ts")).shadowRun(compiled, options);

/** Worst first: interrupted, then unreachable (1), then failed steps (2). */
function exitFor(counts: { failed: number; unreachable: number; notStarted: number }, status: string): number {
  if (status === "interrupted") return ExitCode.interrupted;
  if (counts.unreachable > 0) return ExitCode.transport;
  if (counts.failed > 0 || status === "failed") return ExitCode.check;
  return ExitCode.ok;
}

/** What the run prints: the terminal's view, or --json lines (step output only with --stream). */
function displaySink(prepared: PreparedRun, options: StartOptions, out: LineWriter, journalAt: string): { display: EventSink; note: (note: RunNote) => void; dim: (text: string) => string } {
  const terminal = options.json ? false : stdoutIsTerminal();
  const palette = paletteFor({ isTTY: terminal });
  const display: EventSink = options.json
    ? jsonLinesSink<RunEvent>((line) => out.line(line), { accept: (event) => event.type !== "step.output" || options.stream })
    : terminalRunSink(out, {
        palette,
        stream: options.stream,
        foldOutput: prepared.kind === "exec",
        journalLocation: journalAt,
        ...(terminal ? { progress: (text: string) => process.stderr.write(text) } : {}),
      });
  const note = (note: RunNote) => out.line(options.json ? JSON.stringify(note) : palette.yellow(`shadow: ${note.message}`));
  return { display, note, dim: palette.dim };
}

/** Ctrl-C stops new targets and cancels steps (rollbacks run); a second one quits at once. */
function interruptible(out: LineWriter) {
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
  const release = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  return { signal: controller.signal, hardSignal: hard.signal, release };
}

/** Runs a prepared run through the run service, with its output, the journal and Ctrl-C handling. */
export async function startRun(prepared: PreparedRun, options: StartOptions, extra: { owedRollback?: Target[]; progress?: PriorProgress } = {}): Promise<number> {
  const out = new LineWriter();
  // -v lines go to stderr between the run's own lines, never inside one.
  const debug = (line: string) => {
    out.flush();
    console.error(line);
  };
  const sshTrace = verboseTrace(options.verbose, debug);
  if (options.verbose >= 2) describeTargets(prepared.targets, debug);
  if (prepared.params.dryRun) {
    await checkBeforeRun(prepared, options, true);
    await printPlan(prepared, out, options.json, sshTrace);
    out.flush();
    return ExitCode.ok;
  }
  const journal = await openJournal(await commandJournal(options, prepared.loaded));
  const { display, note, dim } = displaySink(prepared, options, out, journal.location);
  // Spans are exported in the background while the run goes on, and flushed (bounded) before the command exits.
  const tracing = await startCommandTracing(prepared.loaded, (line) => {
    out.flush();
    console.error(line);
  }).catch(async (error: unknown) => {
    await journal.close();
    throw error;
  });
  const sinks = tracing ? [display, await runTraceSinkOf(tracing)] : [display];
  const caller = callerTrace();
  const { signal, hardSignal, release } = interruptible(out);
  try {
    const run = await startJournaledRun(prepared, {
      journal,
      sinks,
      signal,
      hardSignal,
      stream: options.stream,
      shadow: applyShadow,
      onNote: note,
      ...(caller ? { trace: caller } : {}),
      ...(sshTrace ? { sshTrace } : {}),
      ...extra,
    });
    if (!options.json) out.line(dim(`journal: ${journal.location} (opskit runs show ${run.runId})`));
    return exitFor(run.counts, run.status);
  } finally {
    release();
    out.flush();
    // At most a second: a collector that is down delays the exit by that much, never the run.
    await tracing?.shutdown(1000);
    await journal.close();
  }
}

export async function runCommand(args: string[], options: OptionsOf<typeof runSpec>): Promise<number> {
  const name = args[0];
  if (!name) throw usageError("E_USAGE_RUN", "run needs a workflow name", "e.g. opskit run deploy-api; opskit validate lists problems in the config");
  const limit = options.limit || undefined;
  const prepared = await prepareWorkflow(await loadConfigFromOptions(options), { ...runOrigin(options), name, ...(limit ? { limit } : {}), vars: parseVarOptions(options) });
  // Vars are checked before every run: a var nothing gives would fail a step, or make a `when` skip it, halfway through.
  if (!prepared.params.dryRun) await checkBeforeRun(prepared, options, false);
  return startRun(prepared, options);
}

export async function execCommand(args: string[], options: OptionsOf<typeof execSpec>): Promise<number> {
  const { hosts, concurrency } = options;
  // With -H the hosts are named there: every operand is the command.
  const [selector, ...words] = hosts === undefined ? args : ["", ...args];
  if (hosts === undefined && (!selector || words.length === 0)) throw usageError("E_USAGE_EXEC", "exec needs a selector and a command", "e.g. opskit exec 'role=web' -- systemctl is-active nginx");
  if (hosts !== undefined && words.length === 0) throw usageError("E_USAGE_EXEC", "exec -H needs a command", "e.g. opskit exec -H 'web[01-40].example.com' -- uptime");
  if (!options.become && (options.becomeUser !== undefined || options.becomeMethod !== undefined)) {
    const flag = options.becomeUser !== undefined ? "--become-user" : "--become-method";
    throw usageError("E_USAGE_BECOME", `${flag} has no effect without -b`, `add -b (--become), e.g. opskit exec role=db -b --become-user postgres -- psql -c 'select 1'`);
  }
  const become = options.become ? { ...(options.becomeUser !== undefined ? { user: options.becomeUser } : {}), ...(options.becomeMethod !== undefined ? { method: options.becomeMethod } : {}) } : undefined;
  const loaded = hosts === undefined ? await loadConfigFromOptions(options) : await loadConfigIfAny(options);
  return startRun(
    await prepareExec(loaded, {
      ...runOrigin(options),
      selector: selector!,
      ...(hosts !== undefined ? { hosts } : {}),
      command: words.join(" "),
      ...(concurrency !== undefined ? { concurrency } : {}),
      timeout: options.timeout.text,
      ...(become ? { become } : {}),
    }),
    options,
  );
}
