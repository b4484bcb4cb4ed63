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

export interface LocalOptions extends RunOptions {
  cwd: string;
  env?: Record<string, string>;
  environment?: EnvironmentBase;
  /**
   * Stop with SIGINT first and allow this long before TERM: a program that
   * handles an interrupt like a person's Ctrl-C (Terraform finishes the
   * operations under way and releases its state lock) gets the chance to.
   */
  interruptGraceMs?: number;
}

/**
 * Runs a command on this machine with /bin/sh (or, given an argv, the
 * program itself, no shell involved), in its own process group so that a
 * timeout or Ctrl-C stops everything it started: TERM (after INT and its
 * grace, when asked), then KILL two seconds later. The exec action and the
 * `local` target both use it. Its environment is the minimal base plus
 * `env` (see commandEnvironment), and its output, streamed and kept, has
 * the registered secrets masked.
 */
export async function spawnLocal(command: string | readonly string[], options: LocalOptions): Promise<LocalRun> {
  const startedAt = performance.now();
  const stdout = new TailBuffer(options.maxOutputBytes);
  const stderr = new TailBuffer(options.maxOutputBytes);
  const child = Bun.spawn(typeof command === "string" ? ["/bin/sh", "-c", command] : [...command], {
    cwd: options.cwd,
    env: commandEnvironment(options.env, options.environment),
    stdin: options.stdin === undefined ? "ignore" : typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  let stopped: OpsError | undefined;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  const terminate = () => {
    signalGroup("SIGTERM");
    setTimeout(() => signalGroup("SIGKILL"), 2000).unref();
  };
  const kill = (reason: OpsError) => {
    if (stopped) return;
    stopped = reason;
    if (options.interruptGraceMs === undefined) return terminate();
    signalGroup("SIGINT");
    setTimeout(terminate, options.interruptGraceMs).unref();
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
