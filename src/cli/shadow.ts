import { existsSync } from "node:fs";
import { ExitCode, usageError } from "../errors.ts";
import type { EventSink } from "../engine/index.ts";
import { displayJournalLocation, isPostgresUrl, openJournal, type Journal } from "../journal/index.ts";
import { openRunRemotes, prepareWorkflow, startJournaledRun } from "../runs/index.ts";
import {
  buildShadowReport, comparedStepIndex, compileNormalizers, describeSide, outcomeFromResult, parseAspects, parseNormalizeOption, renderShadowReport, runLocalSide, runTrials,
  type SideOutcome, type TrialComparison,
} from "../shadow/index.ts";
import { formatMs, LineWriter, paletteFor, stdoutIsTerminal, type Palette } from "../ui/index.ts";
import { loadConfigFromOptions } from "./config-options.ts";
import { commandJournal } from "./journal-options.ts";
import type { OptionsOf } from "./options.ts";
import { runOrigin } from "./run/index.ts";
import type { shadowSpec } from "./shadow-spec.ts";
import { verboseTrace } from "./run/verbose.ts";
import { parseVarOptions } from "./vars.ts";

const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const WORKFLOW_PREFIX = "workflow:";

type ShadowOptions = OptionsOf<typeof shadowSpec>;

/**
 * `opskit shadow NAME --legacy CMD --candidate CMD|workflow:NAME`, `opskit
 * shadow report [NAME]` and `opskit shadow reset NAME`. The words report and
 * reset are subcommands, so they cannot name a comparison.
 */
export async function shadowCommand(args: string[], options: ShadowOptions): Promise<number> {
  const [first, ...rest] = args;
  if (first === "report") return reportCommand(rest, options);
  if (first === "reset") return resetCommand(rest, options);
  if (!first) throw usageError("E_USAGE_SHADOW", "shadow needs a name, or report or reset", "e.g. opskit shadow disk-report --legacy ./disk-report.sh --candidate workflow:disk-report");
  if (rest.length > 0) throw usageError("E_USAGE_SHADOW", `unexpected argument "${rest[0]}"`, "quote the commands: --legacy './old.sh --all' --candidate './new.sh --all'");
  return compareCommand(first, options);
}

interface Side {
  run(): Promise<SideOutcome>;
  close(): Promise<void>;
}

/** A workflow from the config as the candidate: one journaled run per comparison, on its first target. */
async function workflowSide(name: string, options: ShadowOptions, journal: Journal, timeoutMs: number, signal: AbortSignal): Promise<Side> {
  const { limit } = options;
  const prepared = await prepareWorkflow(await loadConfigFromOptions(options), { ...runOrigin(options), dryRun: false, name, ...(limit ? { limit } : {}), vars: parseVarOptions(options) });
  const { compiled } = prepared;
  const step = compiled.steps[comparedStepIndex(compiled, name, prepared.loaded)]!;
  const target = prepared.targets[0];
  if (!target) throw usageError("E_SHADOW_TARGETS", `workflow ${name} has no targets to run on`, "check its targets: selector, or --limit");
  const first = { ...prepared, targets: [target] };
  // One set of connections for every comparison.
  const remotes = await openRunRemotes(first, verboseTrace(options.verbose, (line) => console.error(line)));
  const run = async (): Promise<SideOutcome> => {
    const startedAt = performance.now();
    let result: SideOutcome | undefined;
    const deadline = AbortSignal.timeout(timeoutMs);
    const capture: EventSink = (event) => {
      if (event.type === "step.finished" && event.phase === "main" && event.index === step.index && event.target === target.name) result = outcomeFromResult(event.result);
    };
    // No shadow: the workflow's own shadow declaration does not apply, this command is the comparison.
    const { runId, status } = await startJournaledRun(first, { journal, remotes, sinks: [capture], maxOutputBytes: MAX_OUTPUT_BYTES, signal: AbortSignal.any([signal, deadline]), hardSignal: signal });
    const durationMs = performance.now() - startedAt;
    if (deadline.aborted && !signal.aborted) return { exitCode: null, stdout: "", stderr: "", durationMs, runId, error: `workflow ${name} timed out after ${formatMs(timeoutMs)}` };
    // The workflow's whole run is the candidate's duration: it is what replaces the legacy script.
    if (!result) return { exitCode: null, stdout: "", stderr: "", durationMs, runId, error: `step ${step.name} did not run on ${target.name} (run ${status})` };
    return { ...result, durationMs, runId };
  };
  return { run, close: () => remotes.close() };
}

function localSide(command: string, timeoutMs: number, signal: AbortSignal): Side {
  return { run: () => runLocalSide(command, { cwd: process.cwd(), timeoutMs, signal, maxOutputBytes: MAX_OUTPUT_BYTES }), close: async () => {} };
}

function printComparison(c: TrialComparison, out: LineWriter, palette: Palette): void {
  const sides = `legacy ${describeSide(c.legacy.exitCode, c.legacy.durationMs, c.legacy.error)} · candidate ${describeSide(c.candidate.exitCode, c.candidate.durationMs, c.candidate.error)}`;
  const ranBoth = c.legacy.error === undefined && c.candidate.error === undefined;
  const verdict = !ranBoth ? palette.red("COULD NOT RUN") : c.equal ? palette.green("agree") : palette.red("DIFFER");
  // What a stopped side printed before it stopped is in the journal, not worth a diff here.
  const differs = ranBoth && c.differs.length > 0 ? ` (${c.differs.join(", ")})` : "";
  out.line(`[${c.run}] ${verdict}${differs} · ${sides}${c.candidate.runId ? ` · run ${c.candidate.runId}` : ""}`);
  if (c.diff && ranBoth) out.line(palette.dim(c.diff.split("\n").map((line) => `    ${line}`).join("\n")));
}

function sideJson(side: SideOutcome) {
  return { exitCode: side.exitCode, durationMs: side.durationMs, ...(side.error !== undefined ? { error: side.error } : {}), ...(side.runId ? { runId: side.runId } : {}) };
}

/** Worst first: a side that could not run (1), then a mismatch (2). */
function exitFor(comparisons: readonly TrialComparison[], interrupted: boolean): number {
  if (interrupted) return ExitCode.interrupted;
  if (comparisons.some((c) => c.legacy.error !== undefined || c.candidate.error !== undefined)) return ExitCode.transport;
  if (comparisons.some((c) => !c.equal)) return ExitCode.check;
  return ExitCode.ok;
}

interface CompareSettings {
  legacy: string;
  candidate: string;
  runs: number;
  timeoutMs: number;
}

function readSettings(options: ShadowOptions): CompareSettings {
  const { legacy, candidate, runs, timeout } = options;
  if (!legacy || !candidate) throw usageError("E_USAGE_SHADOW", "shadow needs --legacy and --candidate", "e.g. opskit shadow report-disk --legacy ./disk.sh --candidate 'bin/disk --format text'");
  return { legacy, candidate, runs, timeoutMs: timeout.ms };
}

async function compareCommand(name: string, options: ShadowOptions): Promise<number> {
  const settings = readSettings(options);
  const aspects = parseAspects(options.compare);
  const rules = options.normalize.map(parseNormalizeOption);
  const normalizers = compileNormalizers(rules, (i) => `--normalize ${i + 1}`);
  const out = new LineWriter();
  const palette = paletteFor({ isTTY: !options.json && stdoutIsTerminal() });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const journal = await openJournal(await commandJournal(options));
  const sides: Side[] = [];
  try {
    sides.push(localSide(settings.legacy, settings.timeoutMs, controller.signal));
    sides.push(
      settings.candidate.startsWith(WORKFLOW_PREFIX)
        ? await workflowSide(settings.candidate.slice(WORKFLOW_PREFIX.length), options, journal, settings.timeoutMs, controller.signal)
        : localSide(settings.candidate, settings.timeoutMs, controller.signal),
    );
    const comparisons = await runTrials({
      name,
      legacy: () => sides[0]!.run(),
      candidate: () => sides[1]!.run(),
      runs: settings.runs,
      aspects,
      normalizers,
      journal,
      signal: controller.signal,
      onComparison: (c) => {
        if (!options.json) return printComparison(c, out, palette);
        const { run, id, equal, differs, candidateFailed, diff } = c;
        out.line(JSON.stringify({ type: "comparison", name, run, id, equal, differs, candidateFailed, legacy: sideJson(c.legacy), candidate: sideJson(c.candidate), diff }));
      },
    });
    const code = exitFor(comparisons, controller.signal.aborted);
    const agreed = comparisons.filter((c) => c.equal).length;
    const couldNotRun = comparisons.filter((c) => c.legacy.error !== undefined || c.candidate.error !== undefined).length;
    const differed = comparisons.length - agreed - couldNotRun;
    if (options.json) out.line(JSON.stringify({ type: "summary", name, runs: comparisons.length, agreed, differed, couldNotRun, exitCode: code }));
    else out.line(`shadow ${name}: ${comparisons.length} run${comparisons.length === 1 ? "" : "s"} · ${agreed} agreed · ${differed} differed · ${couldNotRun} could not run · ${palette.dim(`journal ${journal.location} (opskit shadow report ${name})`)}`);
    return code;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    out.flush();
    for (const side of sides) await side.close();
    await journal.close();
  }
}

async function reportCommand(args: string[], options: ShadowOptions): Promise<number> {
  const [name, extra] = args;
  if (extra !== undefined) throw usageError("E_USAGE_SHADOW", `unexpected argument "${extra}"`, "opskit shadow report [NAME]");
  const location = await commandJournal(options);
  const out = new LineWriter();
  // Nothing recorded yet is an empty report, not an error; the journal is not created for it.
  const entries = isPostgresUrl(location) || existsSync(location) ? await readReport(location, name) : [];
  if (options.json) for (const entry of entries) out.line(JSON.stringify(entry));
  else if (entries.length === 0) out.line(`no shadow comparisons${name ? ` for ${name}` : ""} in ${displayJournalLocation(location)}`);
  else out.line(renderShadowReport(entries, paletteFor({ isTTY: stdoutIsTerminal() })).join("\n"));
  out.flush();
  return ExitCode.ok;
}

async function readReport(location: string, name: string | undefined) {
  const journal = await openJournal(location);
  try {
    return await buildShadowReport(journal, name);
  } finally {
    await journal.close();
  }
}

async function resetCommand(args: string[], options: ShadowOptions): Promise<number> {
  const [name, extra] = args;
  if (!name || extra !== undefined) throw usageError("E_USAGE_SHADOW", "shadow reset takes one name", "opskit shadow reset NAME (opskit shadow report lists the names)");
  const journal = await openJournal(await commandJournal(options));
  const out = new LineWriter();
  try {
    const before = await journal.resetShadow(name, Date.now());
    const wasFallenBack = before?.fallenBackAt !== undefined;
    if (options.json) out.line(JSON.stringify({ type: "reset", name, wasFallenBack, ...(wasFallenBack ? { fallenBackAt: new Date(before!.fallenBackAt!).toISOString(), reason: before!.reason ?? null } : {}) }));
    else if (wasFallenBack) out.line(`shadow ${name}: fallback cleared (${before!.reason ?? "no reason recorded"}); runs use the workflow again, and only comparisons from now on count toward a fallback`);
    else out.line(`shadow ${name}: had not fallen back; only comparisons from now on count toward a fallback`);
  } finally {
    out.flush();
    await journal.close();
  }
  return ExitCode.ok;
}
