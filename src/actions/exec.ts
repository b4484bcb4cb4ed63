import { ExitCode, OpsError } from "../errors.ts";
import { commandResult, TailBuffer } from "./output.ts";
import { failedResult } from "./errors.ts";
import { compileRecord, compileText } from "./render.ts";
import type { Action, ActionContext, ActionResult } from "./types.ts";

type ExecSpec = string | { command: string; cwd?: string; env?: Record<string, string> };
interface ExecRendered {
  command: string;
  cwd?: string;
  env: Record<string, string>;
}

/**
 * Runs a command on this machine with /bin/sh, in its own process group so
 * that a timeout or Ctrl-C kills everything it started.
 */
export async function runLocal(rendered: ExecRendered, context: ActionContext): Promise<ActionResult> {
  const startedAt = performance.now();
  const stdout = new TailBuffer(context.maxOutputBytes);
  const stderr = new TailBuffer(context.maxOutputBytes);
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(["/bin/sh", "-c", rendered.command], {
      cwd: rendered.cwd ? new URL(rendered.cwd, `file://${context.baseDir}/`).pathname : context.baseDir,
      env: { ...process.env, ...rendered.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (error) {
    return failedResult(error, startedAt);
  }
  let stopped: OpsError | undefined;
  const kill = (reason: OpsError) => {
    stopped ??= reason;
    try {
      process.kill(-child.pid, "SIGTERM");
      setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }, 2000).unref();
    } catch {}
  };
  const timer = setTimeout(
    () => kill(new OpsError({ code: "E_COMMAND_TIMEOUT", message: `command timed out after ${context.timeoutMs / 1000}s`, exitCode: ExitCode.check })),
    context.timeoutMs,
  );
  const onAbort = () => kill(new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
  context.signal.addEventListener("abort", onAbort, { once: true });
  const pump = async (stream: ReadableStream<Uint8Array>, buffer: TailBuffer, name: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      buffer.push(text);
      context.onOutput?.(name, text);
    }
  };
  try {
    await Promise.all([pump(child.stdout as ReadableStream<Uint8Array>, stdout, "stdout"), pump(child.stderr as ReadableStream<Uint8Array>, stderr, "stderr"), child.exited]);
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener("abort", onAbort);
  }
  const output = { exitCode: child.exitCode, signal: child.signalCode === null ? null : String(child.signalCode), stdout: stdout.toString(), stderr: stderr.toString(), durationMs: performance.now() - startedAt };
  if (stopped) return { ...commandResult(output), ok: false, changed: false, error: stopped.toJSON() };
  return commandResult(output);
}

export const execAction: Action<ExecSpec, ExecRendered> = {
  kind: "exec",
  async compile(spec, context) {
    const full = typeof spec === "string" ? { command: spec } : spec;
    const command = await compileText(full.command, "exec", "shell", context);
    const env = await compileRecord(full.env ?? {}, "exec.env", "raw", context);
    return (variables) => ({ command: command(variables), env: env(variables), ...(full.cwd ? { cwd: full.cwd } : {}) });
  },
  describe: (rendered) => `exec: ${rendered.command}`,
  run: runLocal,
};
