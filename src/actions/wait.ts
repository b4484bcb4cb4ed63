import type { SchemaKit } from "../schema/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { compileExpression, type Expression } from "../expr/index.ts";
import { parseDuration, sleep } from "../time/index.ts";
import type { Action, ActionContext, ActionResult } from "./types.ts";
import { resultScope, resultVariables, scopeVariables } from "./variables.ts";

interface WaitSpec {
  until: string;
  timeout: string;
  interval: string;
  /** The polled action's spec, under its kind. */
  [kind: string]: unknown;
}
interface WaitRendered {
  action: Action<unknown, unknown>;
  inner: unknown;
  until: Expression;
  scope: Record<string, unknown>;
  timeoutMs: number;
  intervalMs: number;
}

type Registry = () => Readonly<Record<string, Action<any, any>>>;

/** A wait's schema: one of the actions that say they can be polled, under its key, and when to stop. */
function waitSchema(kit: SchemaKit, pollable: readonly Action<any, any>[]) {
  const { z, duration, exactlyOneOf } = kit;
  const polled = z
    .object({
      ...Object.fromEntries(pollable.map((action) => [action.kind, kit.schemaOf(action.schema).optional()])),
      until: z.string().min(1).describe("CEL over the polled result, e.g. status == 200 or exitCode == 0"),
      timeout: duration.default("60s"),
      interval: duration.default("2s"),
    })
    .strict();
  return exactlyOneOf(polled, pollable.map((action) => action.kind), "wait polls") as unknown as ReturnType<Action<WaitSpec>["schema"]>;
}

/**
 * Polls another action until a CEL condition over its result holds, or the
 * timeout passes. Every attempt's failure is expected while waiting; only
 * the deadline fails the step. What it can poll is read from the registry
 * (each action's `pollable`), which is handed over as a function because
 * the registry holds this action too.
 */
export const waitAction = (registry: Registry): Action<WaitSpec, WaitRendered> => {
  const pollable = () => Object.values(registry()).filter((action) => action.pollable === true);
  return {
    kind: "wait",
    schema: (kit) => waitSchema(kit, pollable()),
    onHost: (spec) => pollable().some((action) => spec[action.kind] !== undefined && action.onHost === true),
    async compile(spec, context) {
      const action = pollable().find((candidate) => spec[candidate.kind] !== undefined)!;
      const inner = await action.compile(spec[action.kind], { ...context, where: `${context.where}.wait` });
      const until = await compileExpression(spec.until, `${context.where}.wait.until`, [...scopeVariables, ...resultVariables]);
      const timeoutMs = parseDuration(spec.timeout, "wait.timeout");
      const intervalMs = parseDuration(spec.interval, "wait.interval");
      return (variables) => ({ action, inner: inner(variables), until, scope: variables, timeoutMs, intervalMs });
    },
    describe: (rendered) => `wait until ${rendered.until.source} (${rendered.action.describe(rendered.inner)})`,
    // What the polled action touches, found by its kind in the registry.
    async subjects(rendered, context) {
      const polled = registry()[rendered.action.kind];
      return polled ? (await polled.subjects(rendered.inner, context)).map((subject) => ({ ...subject, label: `wait ${subject.label}` })) : [];
    },
    run: pollUntil,
  };
};

/** Runs the polled action until the condition holds or the deadline passes. */
async function pollUntil(rendered: WaitRendered, context: ActionContext): Promise<ActionResult> {
  const startedAt = performance.now();
  const deadline = startedAt + rendered.timeoutMs;
  let attempts = 0;
  let last: ActionResult | undefined;
  let lastWhy = "";
  while (!context.signal.aborted) {
    attempts++;
    const remaining = Math.max(1, deadline - performance.now());
    last = await rendered.action.run(rendered.inner, { ...context, timeoutMs: Math.min(context.timeoutMs, remaining) });
    const verdict = rendered.until.evaluate({ ...rendered.scope, ...resultScope(last) });
    if (verdict.ok && verdict.value === true) {
      return { ...last, ok: true, changed: false, durationMs: performance.now() - startedAt, data: { ...last.data, attempts } };
    }
    lastWhy = verdict.ok ? `${rendered.until.source} was ${String(verdict.value)}` : verdict.error;
    if (performance.now() + rendered.intervalMs >= deadline) break;
    await sleep(rendered.intervalMs, context.signal);
  }
  const interrupted = context.signal.aborted;
  const error = interrupted
    ? new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted })
    : new OpsError({
        code: "E_WAIT_TIMEOUT",
        message: `condition not met after ${Math.round((performance.now() - startedAt) / 100) / 10}s and ${attempts} attempts: ${lastWhy}${last?.error ? ` (last attempt: ${last.error.message})` : ""}`,
        hint: "raise wait.timeout, or check the condition against a manual run",
        exitCode: ExitCode.check,
      });
  return {
    ok: false,
    changed: false,
    exitCode: last?.exitCode ?? null,
    stdout: last?.stdout ?? "",
    stderr: last?.stderr ?? "",
    durationMs: performance.now() - startedAt,
    error: error.toJSON(),
    data: { ...last?.data, attempts },
  };
}
