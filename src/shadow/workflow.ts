import type { Action, ActionContext, ActionResult } from "../actions/index.ts";
import type { LoadedConfig, Shadow } from "../config/index.ts";
import type { CompiledStep, CompiledWorkflow } from "../engine/index.ts";
import { configError } from "../errors.ts";
import type { ShadowStore } from "../journal/index.ts";
import { compareOutcomes, comparisonRecord, compileNormalizers, type Normalizer, type SideOutcome } from "./compare.ts";
import { fallbackReason } from "./fallback.ts";
import { inShare, parsePercent } from "./share.ts";
import { outcomeFromResult, resultFromOutcome, runLocalSide } from "./side.ts";

export interface ShadowRunOptions {
  /** The workflow's name: comparisons and the fallback are recorded under it. */
  name: string;
  runId: string;
  journal: ShadowStore;
  loaded: Pick<LoadedConfig, "baseDir" | "where">;
  maxOutputBytes: number;
  now?: () => number;
}

/** A line about shadowing for the run's output; `--json` prints it as it is. */
export interface ShadowNote {
  type: "shadow";
  name: string;
  step: string;
  status: "fallen_back" | "compared" | "fell_back";
  message: string;
  compared?: number;
  agreed?: number;
  reason?: string;
}

export interface ShadowedRun {
  /** The workflow to execute: the compared step wrapped, replaced, or left alone. */
  compiled: CompiledWorkflow;
  mode: "off" | "skip" | "compare" | "fallback";
  /** Notes to show before the run starts. */
  notes: ShadowNote[];
  /** Notes to show once the run finished: what was compared, and a fallback it caused. */
  finish(): ShadowNote[];
}

/** The index of the step whose result is compared: `shadow.step`, else the last main step. */
export function comparedStepIndex(compiled: CompiledWorkflow, workflowName: string, loaded: Pick<LoadedConfig, "where">): number {
  const name = compiled.workflow.shadow?.step;
  if (name === undefined) return compiled.steps.length - 1;
  const index = compiled.steps.findIndex((s) => s.name === name);
  if (index < 0) {
    throw configError(
      "E_SHADOW_STEP",
      `${loaded.where(["workflows", workflowName, "shadow", "step"])}: workflow ${workflowName} has no step "${name}"`,
      `name one of its steps: ${compiled.steps.map((s) => s.name).join(", ")}`,
    );
  }
  return index;
}

const replaceStep = (compiled: CompiledWorkflow, index: number, step: CompiledStep): CompiledWorkflow => ({
  ...compiled,
  steps: compiled.steps.map((s, i) => (i === index ? step : s)),
});

/** What a run's shadowing needs: the declaration, the compared step, and how to run the legacy command. */
interface Shadowing {
  declaration: Shadow;
  step: CompiledStep;
  index: number;
  normalizers: Normalizer[];
  options: ShadowRunOptions;
  now: () => number;
  runLegacy(context: ActionContext): Promise<SideOutcome>;
}

/**
 * Applies a workflow's `shadow:` declaration to one run, before it executes.
 *
 * - Fallen back (recorded in the journal): the legacy command runs in place
 *   of the compared step, and its outcome is the step's result.
 * - Otherwise, for `share` of runs (decided by run id, see inShare), the
 *   legacy command runs beside the compared step on every target the step
 *   runs for, and the two are compared and recorded; once the rates over the
 *   comparisons since the last reset exceed `maxMismatch`, the workflow falls
 *   back from the next run on. The decision is read once per run, so a run
 *   never switches halfway through its targets. Raising `share` in the
 *   config takes effect at the next run.
 *
 * The legacy command runs on this machine, in the config's directory, with
 * the step's timeout and OPSKIT_TARGET / OPSKIT_TARGET_ADDRESS naming the
 * target it stands in for.
 */
export async function shadowRun(compiled: CompiledWorkflow, options: ShadowRunOptions): Promise<ShadowedRun> {
  const declaration = compiled.workflow.shadow;
  if (!declaration) return { compiled, mode: "off", notes: [], finish: () => [] };
  const index = comparedStepIndex(compiled, options.name, options.loaded);
  const shadowing: Shadowing = {
    declaration,
    step: compiled.steps[index]!,
    index,
    // Bad patterns fail here, before anything runs.
    normalizers: compileNormalizers(declaration.normalize, (i) => options.loaded.where(["workflows", options.name, "shadow", "normalize", i, "pattern"]), "config"),
    options,
    now: options.now ?? Date.now,
    runLegacy: async (context) => {
      // The legacy command answers to the workflow's permissions and the policy like any command.
      const denied = await compiled.steps[index]!.guard?.("exec", { command: declaration.legacy, env: {} }, context.target);
      if (denied) return { exitCode: null, stdout: "", stderr: "", durationMs: 0, error: denied.message };
      return runLocalSide(declaration.legacy, {
        cwd: options.loaded.baseDir,
        env: { OPSKIT_TARGET: context.target.name, OPSKIT_TARGET_ADDRESS: context.target.address },
        timeoutMs: context.timeoutMs,
        signal: context.signal,
        maxOutputBytes: options.maxOutputBytes,
      });
    },
  };
  const state = await options.journal.getShadowState(options.name);
  if (state?.fallenBackAt !== undefined) return fallenBack(compiled, shadowing, state.fallenBackAt, state.reason);
  if (!inShare(options.runId, parsePercent(declaration.share))) return { compiled, mode: "skip", notes: [], finish: () => [] };
  return comparing(compiled, shadowing);
}

/** The legacy command in place of the compared step; the candidate's templates are not rendered. */
function fallenBack(compiled: CompiledWorkflow, shadowing: Shadowing, at: number, reason: string | undefined): ShadowedRun {
  const { declaration, step, options } = shadowing;
  const legacy: Action<unknown, unknown> = {
    ...step.action,
    describe: () => `legacy (fallback): ${declaration.legacy}`,
    run: async (_rendered, context) => resultFromOutcome(await shadowing.runLegacy(context)),
  };
  const note: ShadowNote = {
    type: "shadow",
    name: options.name,
    step: step.name,
    status: "fallen_back",
    reason: reason ?? "",
    message: `${options.name} has fallen back since ${new Date(at).toISOString()} (${reason ?? "no reason recorded"}): the legacy command runs in place of step ${step.name}; opskit shadow reset ${options.name} returns to the workflow`,
  };
  // It runs here as an exec step does, and reads as one: a permission check sees the legacy command.
  const rendered = { command: declaration.legacy, env: {} };
  return { compiled: replaceStep(compiled, shadowing.index, { ...step, kind: "exec", render: () => rendered, action: legacy }), mode: "fallback", notes: [note], finish: () => [] };
}

interface Tally {
  compared: number;
  agreed: number;
  /** The reason this run made the workflow fall back. */
  fellBack?: string;
}

/** Records one comparison, then decides over the window whether the workflow falls back. */
async function recordComparison(shadowing: Shadowing, tally: Tally, target: string, legacy: SideOutcome, candidate: SideOutcome): Promise<void> {
  const { declaration, options, now } = shadowing;
  const { journal, name } = options;
  const comparison = compareOutcomes(legacy, candidate, declaration.compare, shadowing.normalizers);
  const record = comparisonRecord(legacy, candidate, comparison, { name, at: now(), source: "workflow", runId: options.runId, target });
  await journal.recordShadowComparison(record);
  tally.compared++;
  if (comparison.equal) tally.agreed++;
  const current = await journal.getShadowState(name);
  if (current?.fallenBackAt !== undefined) return;
  const [stats] = await journal.shadowStats({ name, source: "workflow", afterId: current?.windowStart ?? 0 });
  const reason = fallbackReason(stats, { maxMismatchPercent: parsePercent(declaration.maxMismatch), minComparisons: declaration.minComparisons });
  if (reason && (await journal.fallBackShadow(name, now(), reason))) tally.fellBack = reason;
}

/** The compared step wrapped: the legacy command runs beside it, once per target, and the two are compared. */
function comparing(compiled: CompiledWorkflow, shadowing: Shadowing): ShadowedRun {
  const { step } = shadowing;
  const tally: Tally = { compared: 0, agreed: 0 };
  const legacyRuns = new Map<string, Promise<SideOutcome>>();
  const attempts = new Map<string, number>();
  const shadowed: Action<unknown, unknown> = {
    ...step.action,
    async run(rendered, context): Promise<ActionResult> {
      const target = context.target.name;
      // The legacy command runs once per target, beside the first attempt.
      let legacy = legacyRuns.get(target);
      if (!legacy) {
        legacy = shadowing.runLegacy(context);
        legacyRuns.set(target, legacy);
      }
      const attempt = (attempts.get(target) ?? 0) + 1;
      attempts.set(target, attempt);
      const result = await step.action.run(rendered, context);
      // The engine retries this failure: compare only the attempt whose result the step keeps.
      if (!result.ok && !result.unreachable && attempt < step.attempts && !context.signal.aborted) return result;
      await recordComparison(shadowing, tally, target, await legacy, outcomeFromResult(result));
      return result;
    },
  };
  return { compiled: replaceStep(compiled, shadowing.index, { ...step, action: shadowed }), mode: "compare", notes: [], finish: () => finishNotes(shadowing, tally) };
}

function finishNotes(shadowing: Shadowing, tally: Tally): ShadowNote[] {
  const { name } = shadowing.options;
  const step = shadowing.step.name;
  const differed = tally.compared - tally.agreed;
  const targets = `${tally.compared} target${tally.compared === 1 ? "" : "s"}`;
  const notes: ShadowNote[] = [
    {
      type: "shadow",
      name,
      step,
      status: "compared",
      compared: tally.compared,
      agreed: tally.agreed,
      message:
        tally.compared === 0
          ? `step ${step} did not run on any target: nothing compared with the legacy command`
          : `step ${step} compared with the legacy command on ${targets}: ${tally.agreed} agreed, ${differed} differed${differed > 0 ? ` (opskit shadow report ${name})` : ""}`,
    },
  ];
  if (tally.fellBack) {
    notes.push({
      type: "shadow",
      name,
      step,
      status: "fell_back",
      reason: tally.fellBack,
      message: `${name} FELL BACK: ${tally.fellBack}; from the next run the legacy command runs in place of step ${step} (opskit shadow reset ${name} returns to the workflow)`,
    });
  }
  return notes;
}
