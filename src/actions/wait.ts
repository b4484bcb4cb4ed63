import { ExitCode, OpsError } from "../errors.ts";
import { compileExpression, type Expression } from "../expr/index.ts";
import { parseDuration, sleep } from "../ui/index.ts";
import { execAction } from "./exec.ts";
import { httpAction } from "./http.ts";
import { probeAction } from "./probe.ts";
import { sshAction } from "./ssh.ts";
import type { Action, ActionContext, ActionResult } from "./types.ts";
import { resultScope, resultVariables, scopeVariables } from "./variables.ts";

/** What a wait can poll; each is an ordinary action. */
const pollable: Record<string, Action<any, any>> = { ssh: sshAction, exec: execAction, http: httpAction, probe: probeAction };

interface WaitSpec {
  until: string;
  timeout: string;
  interval: string;
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

/**
 * Polls another action until a CEL condition over its result holds, or the
 * timeout passes. Every attempt's failure is expected while waiting; only
 * the deadline fails the step.
 */
export const waitAction: Action<WaitSpec, WaitRendered> = {
  kind: "wait",
  async compile(spec, context) {
    const kind = Object.keys(pollable).find((k) => spec[k] !== undefined)!;
    const action = pollable[kind]!;
    const inner = await action.compile(spec[kind], { ...context, where: `${context.where}.wait` });
    const until = await compileExpression(spec.until, `${context.where}.wait.until`, [...scopeVariables, ...resultVariables]);
    const timeoutMs = parseDuration(spec.timeout, "wait.timeout");
    const intervalMs = parseDuration(spec.interval, "wait.interval");
    return (variables) => ({ action, inner: inner(variables), until, scope: variables, timeoutMs, intervalMs });
  },
  describe: (rendered) => `wait until ${rendered.until.source} (${rendered.action.describe(rendered.inner)})`,
  async run(rendered, context: ActionContext): Promise<ActionResult> {
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
  },
};
