import type { CommandOutput, RunOptions } from "../../actions/index.ts";
import { ExitCode, OpsError } from "../../errors.ts";

/** Runs a command on this machine for the `local` target, with the same contract as a remote shell. */
export async function runLocalCommand(command: string, options: RunOptions): Promise<CommandOutput> {
  const startedAt = performance.now();
  const child = Bun.spawn(["/bin/sh", "-c", command], {
    stdin: options.stdin === undefined ? "ignore" : typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  let stopped: OpsError | undefined;
  const kill = (reason: OpsError) => {
    stopped ??= reason;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  };
  const timer = setTimeout(() => kill(new OpsError({ code: "E_COMMAND_TIMEOUT", message: `command timed out after ${options.timeoutMs / 1000}s`, exitCode: ExitCode.check })), options.timeoutMs);
  const onAbort = () => kill(new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
  options.signal.addEventListener("abort", onAbort, { once: true });
  const read = async (stream: ReadableStream<Uint8Array>, forward?: (text: string) => void) => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      forward?.(piece);
      text = (text + piece).slice(-options.maxOutputBytes);
    }
    return text;
  };
  try {
    const [stdout, stderr] = await Promise.all([read(child.stdout, options.onStdout), read(child.stderr, options.onStderr), child.exited]);
    if (stopped) throw stopped;
    return { exitCode: child.exitCode, signal: child.signalCode === null ? null : String(child.signalCode), stdout, stderr, truncated: false, durationMs: performance.now() - startedAt };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
  }
}
