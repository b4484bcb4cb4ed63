import type { SchemaKit } from "../schema/index.ts";
import { commandEnvSchema } from "./environment.ts";
import { failedResult } from "./errors.ts";
import { spawnLocal, type LocalRun } from "./local.ts";
import { commandResult } from "./output.ts";
import { compileCommand, compileEnv } from "./render.ts";
import { traceEnvironment } from "./trace-context.ts";
import type { Action, ActionContext, ActionResult, SpecOf } from "./types.ts";

const schema = (kit: SchemaKit) => {
  const { z } = kit;
  return z.union([
    z.string().min(1),
    z.object({ command: z.string().min(1), cwd: z.string().optional(), env: commandEnvSchema(kit).optional() }).strict(),
  ]);
};
type ExecSpec = SpecOf<typeof schema>;
interface ExecRendered {
  /** The command as one self-contained string: assignments of the values, then the command that references them. */
  command: string;
  /** The command text with references only; it runs with `values` in its environment, so no value is on a command line. */
  script: string;
  values: Record<string, string>;
  /** What a person and the permission check read: the values quoted in place. */
  shown: string;
  cwd?: string;
  env: Record<string, string>;
}

/** A local command as an action: a stopped command fails with why, its output so far kept. */
export async function runLocal(rendered: ExecRendered, context: ActionContext): Promise<ActionResult> {
  const startedAt = performance.now();
  let run: LocalRun;
  try {
    run = await spawnLocal(rendered.script, {
      cwd: rendered.cwd ? new URL(rendered.cwd, `file://${context.baseDir}/`).pathname : context.baseDir,
      env: { ...traceEnvironment(context), ...rendered.env, ...rendered.values },
      timeoutMs: context.timeoutMs,
      signal: context.signal,
      maxOutputBytes: context.maxOutputBytes,
      onStdout: (text) => context.onOutput?.("stdout", text),
      onStderr: (text) => context.onOutput?.("stderr", text),
    });
  } catch (error) {
    return failedResult(error, startedAt);
  }
  if (run.stopped) return { ...commandResult(run.output), ok: false, changed: false, error: run.stopped.toJSON() };
  return commandResult(run.output);
}

export const execAction: Action<ExecSpec, ExecRendered> = {
  kind: "exec",
  schema,
  pollable: true,
  async compile(spec, context) {
    const full = typeof spec === "string" ? { command: spec } : spec;
    const command = await compileCommand(full.command, "exec", context);
    const env = await compileEnv(full.env ?? {}, "exec.env", context);
    return (variables) => ({ ...command(variables), env: env(variables), ...(full.cwd ? { cwd: full.cwd } : {}) });
  },
  describe: (rendered) => `exec: ${rendered.shown}`,
  // `shown` reads with the values in place; `command` only references them.
  subjects: (rendered) => [{ category: "commands", label: "exec command", command: rendered.shown ?? rendered.command }],
  run: runLocal,
};
