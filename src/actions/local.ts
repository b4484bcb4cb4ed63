import { ExitCode, OpsError } from "../errors.ts";
import { secrets } from "../observe/index.ts";
import { formatMs } from "../ui/index.ts";
import { commandEnvironment, type EnvironmentBase } from "./environment.ts";
import { TailBuffer } from "./output.ts";
import type { CommandOutput, RunOptions } from "./types.ts";

export interface LocalRun {
  output: CommandOutput;
  /** Why the command was stopped (timeout, interrupt); its output so far is kept. */
  stopped: OpsError | undefined;
}

/**
 * Runs a command on this machine with /bin/sh, in its own process group so
 * that a timeout or Ctrl-C kills everything it started: TERM, then KILL
 * two seconds later. The exec action and the `local` target both use it.
 * Its environment is the minimal base plus `env` (see commandEnvironment),
 * and its output, streamed and kept, has the registered secrets masked.
 */
export async function spawnLocal(command: string, options: RunOptions & { cwd: string; env?: Record<string, string>; environment?: EnvironmentBase }): Promise<LocalRun> {
  const startedAt = performance.now();
  const stdout = new TailBuffer(options.maxOutputBytes);
  const stderr = new TailBuffer(options.maxOutputBytes);
  const child = Bun.spawn(["/bin/sh", "-c", command], {
    cwd: options.cwd,
    env: commandEnvironment(options.env, options.environment),
    stdin: options.stdin === undefined ? "ignore" : typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
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
    () => kill(new OpsError({ code: "E_COMMAND_TIMEOUT", message: `command timed out after ${formatMs(options.timeoutMs)}`, exitCode: ExitCode.check })),
    options.timeoutMs,
  );
  // An abort carrying an OpsError (a step's deadline) is reported as that; any other is an interrupt.
  const onAbort = () => {
    const reason: unknown = options.signal.reason;
    kill(reason instanceof OpsError ? reason : new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
  };
  options.signal.addEventListener("abort", onAbort, { once: true });
  // Aborted before it started: stopped at once, not left to its timeout.
  if (options.signal.aborted) onAbort();
  const pump = async (stream: ReadableStream<Uint8Array>, buffer: TailBuffer, forward: ((text: string) => void) | undefined) => {
    const decoder = new TextDecoder();
    // Masked before it is kept: a secret cut in two by the tail buffer's trim must not leave its end behind.
    const masked = secrets.stream();
    const take = (text: string) => {
      if (text === "") return;
      buffer.push(text);
      forward?.(text);
    };
    for await (const chunk of stream) take(masked.push(decoder.decode(chunk, { stream: true })));
    take(masked.push(decoder.decode()));
    take(masked.flush());
  };
  try {
    await Promise.all([pump(child.stdout, stdout, options.onStdout), pump(child.stderr, stderr, options.onStderr), child.exited]);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
  }
  const output: CommandOutput = {
    exitCode: child.exitCode,
    signal: child.signalCode === null ? null : String(child.signalCode),
    stdout: stdout.toString(),
    stderr: stderr.toString(),
    truncated: stdout.truncated || stderr.truncated,
    durationMs: performance.now() - startedAt,
  };
  return { output, stopped };
}
