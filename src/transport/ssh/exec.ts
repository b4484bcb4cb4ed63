import type { ClientChannel } from "ssh2";
import type { SshConnection } from "./connection.ts";
import { reasonOf, sleep, startDeadline } from "./deadline.ts";
import { CommandStoppedError, commandTimeoutError } from "./errors.ts";
import { commandOutput, StreamCapture } from "./output.ts";
import { commandReportingGroup, GroupReportScanner, killGraceMs, newGroupMarker, stopRemoteCommand } from "./stop.ts";
import type { ExecOptions, ExecResult } from "./types.ts";

/**
 * Runs `command` on its own channel of the pooled connection; sshd gives it
 * to the user's login shell (`$SHELL -c`). stdin is sent and closed at once,
 * so a command that reads stdin never waits for more. A command stopped by
 * the timeout or the caller's signal has its process group killed (see
 * stop.ts); the failure is a CommandStoppedError with the output so far,
 * raised as soon as the group was sent TERM.
 */
/** -v: how the command ended and how long each phase took (the connection's own share once, when it was opened for this host). */
export function traceResult(connection: SshConnection, result: ExecResult): void {
  const { connectMs, authMs } = connection.timings;
  const execMs = Math.round(result.durationMs);
  const how = result.exitCode !== null ? `exit ${result.exitCode}` : result.signal ? `killed by ${result.signal}` : "no exit status";
  connection.trace(2, `output: ${Buffer.byteLength(result.stdout)} bytes on stdout, ${Buffer.byteLength(result.stderr)} on stderr${result.truncated ? " (truncated)" : ""}`);
  connection.trace(1, `${how}; timings: connect ${connectMs} ms, auth ${authMs} ms, exec ${execMs} ms, total ${connectMs + authMs + execMs} ms`);
}

export async function execCommand(connection: SshConnection, command: string, options: ExecOptions): Promise<ExecResult> {
  const startedAt = performance.now();
  connection.trace(1, `exec: ${command}`);
  const deadline = startDeadline(options.signal, options.timeoutMs, () => commandTimeoutError(connection.endpoint, command, options.timeoutMs));
  // Once the run is reported, late output (a dying command's last words) goes nowhere.
  let reported = false;
  const stdout = new StreamCapture(options.maxOutputBytes, options.onStdout);
  const stderr = new StreamCapture(options.maxOutputBytes, options.onStderr);
  const marker = newGroupMarker();
  let reportGroup!: (pgid: number) => void;
  const group = new Promise<number>((resolve) => (reportGroup = resolve));
  const stderrScan = new GroupReportScanner(marker, (chunk) => reported || stderr.push(chunk), (pgid) => reportGroup(pgid));
  let exit: { code: number | null; signal: string | null } | undefined;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  let opening: Promise<ClientChannel | undefined> | undefined;
  // The scanner keeps reading after this: a stop still under way may need the group report it has not seen yet.
  const outputSoFar = (): ExecResult => {
    reported = true;
    return commandOutput(stdout, stderr, { code: null, signal: null }, startedAt);
  };
  try {
    let channel: ClientChannel;
    try {
      ({ channel } = await connection.exec(commandReportingGroup(command, marker), deadline.signal, {
        requested: (pending) => {
          opening = pending.catch(() => undefined);
        },
        prepare: (opened) => {
          opened.on("data", (chunk: Buffer) => reported || stdout.push(chunk));
          opened.stderr.on("data", (chunk: Buffer) => stderrScan.push(chunk));
          connection.trace(2, "exec: channel open, stdin closed");
          opened.on("exit", (code: number | null, signal?: string) => {
            connection.trace(2, `exec: exit-status ${code ?? "none"}${signal ? `, exit-signal ${signal}` : ""}`);
            exit = typeof code === "number" ? { code, signal: null } : { code: null, signal: signal ?? null };
          });
          // Writing stdin to a command that already exited is not our failure.
          opened.on("error", () => undefined);
          opened.once("close", () => markClosed());
        },
      }));
    } catch (error) {
      if (!deadline.signal.aborted || !opening) throw error;
      // The open request was out when the caller gave up: a command that starts now is stopped too.
      const pending = opening;
      connection.trackStop(
        (async () => {
          const late = await Promise.race([pending, sleep(killGraceMs).then(() => undefined)]);
          if (late) await stopRemoteCommand({ connection, channel: late, group, closed });
        })(),
      );
      throw new CommandStoppedError(reasonOf(deadline.signal), outputSoFar());
    }
    if (options.stdin !== undefined) channel.end(typeof options.stdin === "string" ? Buffer.from(options.stdin) : Buffer.from(options.stdin));
    else channel.end();

    const aborted = new Promise<void>((resolve) => {
      if (deadline.signal.aborted) resolve();
      else deadline.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    const outcome = await Promise.race([closed.then(() => "closed" as const), aborted.then(() => "aborted" as const)]);
    if (outcome === "aborted") {
      connection.trackStop(stopRemoteCommand({ connection, channel, group, closed }));
      throw new CommandStoppedError(reasonOf(deadline.signal), outputSoFar());
    }
    // A channel that closes without an exit status lost its connection.
    if (!exit && connection.closed) throw connection.lostError();
    stderrScan.end();
    const result = commandOutput(stdout, stderr, exit ?? { code: null, signal: null }, startedAt);
    traceResult(connection, result);
    return result;
  } finally {
    deadline.dispose();
  }
}
