import type { ActionPreview } from "../../actions/index.ts";
import { celVars, describeStep, stepBecome, loadPreflight, openRemotes, planBatches, previewStep, runPool, toRunTarget, type CompiledStep, type RunTarget } from "../../engine/index.ts";
import { eventJsonLine, foldHostNames, type LineWriter } from "../../ui/index.ts";
import { parseVarOptions, type VarOptions } from "../vars.ts";
import type { PreparedRun } from "../../runs/index.ts";
import type { SshTrace } from "../../transport/ssh/index.ts";

/**
 * What a run would do, found before it starts: the checks that catch a run
 * bound to fail or to go wrong quietly, and the plan --dry-run prints.
 */

/**
 * Vars nothing gives (every run), and with `full` (--dry-run) also unset
 * environment variables and secrets and permissions that deny every target.
 * Every problem is reported at once, with file:line:col; exit 65.
 */
export async function checkBeforeRun(prepared: PreparedRun, options: VarOptions, full: boolean): Promise<void> {
  const { checkSteps, checkTargetsAllowed, stepsOf, PreflightFailed } = await loadPreflight();
  const { workflow } = prepared.compiled;
  // An ad-hoc command is not in the config: its one step is named by the command line.
  const path = prepared.kind === "workflow" ? ["workflows", prepared.name] : [];
  const where = prepared.kind === "workflow" ? (at: (string | number)[]) => prepared.loaded.where(at) : () => "command";
  const given = new Set(Object.keys(prepared.kind === "workflow" ? parseVarOptions(options) : {}));
  const values = Object.entries(prepared.vars);
  const vars = {
    defined: new Set(values.filter(([name, value]) => given.has(name) || (value !== null && value !== undefined)).map(([name]) => name)),
    required: new Set(values.filter(([name, value]) => !given.has(name) && (value === null || value === undefined)).map(([name]) => name)),
    hint: (name: string) =>
      prepared.kind === "exec"
        ? `declare it under vars: in the config`
        : `give it with --var ${name}=VALUE (text) or --var-json ${name}=JSON, or declare a default under workflows.${prepared.name}.vars`,
  };
  const problems = await checkSteps({ steps: stepsOf(path, workflow), where, vars, env: process.env });
  const reported = full ? problems : problems.filter((p) => p.code.startsWith("E_VAR_"));
  if (full) {
    reported.push(
      ...(await checkTargetsAllowed({
        name: prepared.name,
        workflow,
        path,
        where,
        guard: prepared.compiled.steps[0]?.guard,
        policy: prepared.policy,
        targets: prepared.targets.map(toRunTarget),
      })),
    );
  }
  if (reported.length > 0) throw new PreflightFailed(reported, `${prepared.kind} ${prepared.name}`);
}

interface PlannedStep {
  target: string;
  batch: number;
  phase: string;
  step: CompiledStep;
  /** The rendered action, or why it can only be rendered at run time. */
  description: string | undefined;
  deferred: string | undefined;
  /** What it would change (a copy's diff), read from the target without changing it. */
  preview?: ActionPreview;
  runTarget: RunTarget;
  rendered?: unknown;
}

/** A plan line's `become`: who the step would run as on its target. */
function becomeField(p: PlannedStep): { become?: { user: string; method: string } } {
  const become = stepBecome(p.step, p.runTarget);
  return become ? { become: { user: become.user, method: become.method } } : {};
}

const phasesOf = (prepared: PreparedRun) =>
  [
    ["pre", prepared.compiled.hooks.pre],
    ["main", prepared.compiled.steps],
    ["post", prepared.compiled.hooks.post],
    ["on_failure", prepared.compiled.hooks.on_failure],
    ["rollback", prepared.compiled.hooks.rollback],
  ] as const;

function planSteps(prepared: PreparedRun, batches: PreparedRun["targets"][]): PlannedStep[] {
  const vars = celVars(prepared.vars);
  const planned: PlannedStep[] = [];
  batches.forEach((batch, b) => {
    for (const target of batch) {
      const runTarget = toRunTarget(target);
      const scope = { vars, target: { ...runTarget, port: BigInt(target.port) }, env: process.env, steps: {} };
      for (const [phase, steps] of phasesOf(prepared)) {
        for (const step of steps) {
          // A runOnce step runs on the first target that reaches it: planned there only.
          if (step.runOnce && planned.some((p) => p.step === step)) continue;
          let description: string | undefined;
          let deferred: string | undefined;
          let rendered: unknown;
          try {
            rendered = step.render(scope);
            description = describeStep(step, rendered, runTarget);
          } catch (error) {
            // A template that reads steps.<name> can only be rendered at run time.
            deferred = error instanceof Error ? error.message.split("\n")[0]! : String(error);
          }
          planned.push({ target: target.name, batch: b + 1, phase, step, description, deferred, runTarget, ...(description !== undefined ? { rendered } : {}) });
        }
      }
    }
  });
  return planned;
}

/**
 * Asks each planned step whose action can tell (copy) what it would change,
 * reading the targets and never writing them; a target that cannot be read
 * says why in the preview instead of failing the plan.
 */
async function previewSteps(prepared: PreparedRun, planned: PlannedStep[], sshTrace: SshTrace | undefined): Promise<void> {
  const wanted = planned.filter((p) => p.step.action.preview && p.description !== undefined && (p.phase === "main" || p.phase === "pre" || p.phase === "post"));
  if (wanted.length === 0) return;
  const remotes = await openRemotes(prepared.loaded, prepared.targets, undefined, undefined, sshTrace);
  const signal = new AbortController().signal;
  try {
    const pool = runPool(
      wanted,
      async (p) => {
        try {
          p.preview = await previewStep(p.step, p.rendered, p.runTarget, { connect: (target, s) => remotes.connect(target.name, s), signal, baseDir: prepared.loaded.baseDir, maxOutputBytes: 64 * 1024 });
        } catch (error) {
          p.preview = { status: "unknown", summary: `could not tell: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}` };
        }
      },
      { concurrency: prepared.loaded.defaults.concurrency },
    );
    for await (const done of pool) if ("error" in done) throw done.error;
  } finally {
    await remotes.close();
  }
}

/** A preview under its step in the text plan: the summary, and the diff indented below it. */
function previewLines(preview: ActionPreview): string[] {
  const lines = [preview.summary];
  if (preview.diff) lines.push(...preview.diff.replace(/\n$/, "").split("\n").map((l) => `  ${l}`));
  return lines;
}

/**
 * --dry-run: batches and the rendered steps per target; nothing is touched.
 * With --json, one line per target and step (`plan.step`) between
 * `plan.started` and `plan.finished`.
 */
/** `sshTrace`: -v over the connections a preview opens (a copy's diff reads the target). */
export async function printPlan(prepared: PreparedRun, out: LineWriter, json: boolean, sshTrace?: SshTrace): Promise<void> {
  const batches = planBatches(prepared.targets, prepared.compiled.workflow.strategy);
  const planned = planSteps(prepared, batches);
  await previewSteps(prepared, planned, sshTrace);
  if (json) {
    const names = batches.map((batch) => batch.map((t) => t.name));
    out.line(eventJsonLine({ type: "plan.started", kind: prepared.kind, name: prepared.name, targets: names.flat(), batches: names, vars: prepared.vars, dryRun: true }));
    for (const p of planned) {
      out.line(
        eventJsonLine({
          type: "plan.step",
          target: p.target,
          batch: p.batch,
          phase: p.phase,
          index: p.step.index,
          name: p.step.name,
          action: p.step.kind,
          when: p.step.when?.source ?? null,
          description: p.description ?? null,
          deferred: p.deferred ?? null,
          ...(p.step.runOnce ? { runOnce: true } : {}),
          ...(p.step.delegate ? { delegate: p.step.delegate } : {}),
          ...becomeField(p),
          ...(p.preview ? { preview: p.preview } : {}),
        }),
      );
    }
    out.line(eventJsonLine({ type: "plan.finished", kind: prepared.kind, name: prepared.name, targets: prepared.targets.length, batches: batches.length, steps: planned.length }));
    return;
  }
  out.line(`plan: ${prepared.kind} ${prepared.name} · ${prepared.targets.length} targets in ${batches.length} batch${batches.length === 1 ? "" : "es"} (dry run: nothing is touched)`);
  batches.forEach((batch, i) => out.line(`  batch ${i + 1}: ${foldHostNames(batch.map((t) => t.name))}`));
  for (const [phase, steps] of phasesOf(prepared)) {
    if (steps.length === 0) continue;
    out.line(`${phase === "main" ? "steps" : phase}:`);
    for (const step of steps) {
      const rendered = new Map<string, string[]>();
      for (const p of planned.filter((p) => p.step === step)) {
        const text = p.description ?? `${step.kind}: (rendered at run time: ${p.deferred})`;
        rendered.set(text, [...(rendered.get(text) ?? []), p.target]);
      }
      out.line(`  - ${step.name}${step.runOnce ? " (once)" : ""}${step.when ? ` (when ${step.when.source})` : ""}`);
      for (const [text, names] of rendered) out.line(`      ${foldHostNames(names)}: ${text}`);
      // What it would change, per target; identical previews folded under one host set.
      const previews = new Map<string, string[]>();
      for (const p of planned.filter((p) => p.step === step && p.preview)) {
        const text = previewLines(p.preview!).join("\n");
        previews.set(text, [...(previews.get(text) ?? []), p.target]);
      }
      for (const [text, names] of previews) {
        const [first, ...rest] = text.split("\n");
        out.line(`      ${foldHostNames(names)}: ${first}`);
        for (const line of rest) out.line(`        ${line}`);
      }
    }
  }
}
