import type { ClientChannel } from "ssh2";
import type { SshConnection } from "./connection.ts";
import { reasonOf, sleep, startDeadline } from "./deadline.ts";
import { commandTimeoutError } from "./errors.ts";
import { StreamCapture } from "./output.ts";
import type { ExecOptions, ExecResult } from "./types.ts";

/** How long a killed command gets between TERM and KILL, and KILL and closing the channel. */
export const killGraceMs = 1_000;

/**
 * Runs `command` on its own channel of the pooled connection; sshd gives it
 * to the user's login shell (`$SHELL -c`). stdin is sent and closed at once,
 * so a command that reads stdin never waits for more.
 */
export async function execCommand(connection: SshConnection, command: string, options: ExecOptions): Promise<ExecResult> {
  const startedAt = performance.now();
  const deadline = startDeadline(options.signal, options.timeoutMs, () => commandTimeoutError(connection.endpoint, command, options.timeoutMs));
  try {
    const stdout = new StreamCapture(options.maxOutputBytes, options.onStdout);
    const stderr = new StreamCapture(options.maxOutputBytes, options.onStderr);
    let exit: { code: number | null; signal: string | null } | undefined;
    let markClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    const { channel } = await connection.exec(command, deadline.signal, (opened) => {
      opened.on("data", (chunk: Buffer) => stdout.push(chunk));
      opened.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      opened.on("exit", (code: number | null, signal?: string) => {
        exit = typeof code === "number" ? { code, signal: null } : { code: null, signal: signal ?? null };
      });
      // Writing stdin to a command that already exited is not our failure.
      opened.on("error", () => undefined);
      opened.once("close", () => markClosed());
    });
    if (options.stdin !== undefined) channel.end(typeof options.stdin === "string" ? Buffer.from(options.stdin) : Buffer.from(options.stdin));
    else channel.end();

    const aborted = new Promise<void>((resolve) => {
      if (deadline.signal.aborted) resolve();
      else deadline.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    const outcome = await Promise.race([closed.then(() => "closed" as const), aborted.then(() => "aborted" as const)]);
    if (outcome === "aborted") {
      await killChannel(channel, closed);
      throw reasonOf(deadline.signal);
    }
    // A channel that closes without an exit status lost its connection.
    if (!exit && connection.closed) throw connection.lostError();
    return {
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
      stdout: stdout.finish(),
      stderr: stderr.finish(),
      truncated: stdout.truncated || stderr.truncated,
      durationMs: performance.now() - startedAt,
    };
  } finally {
    deadline.dispose();
  }
}

/**
 * Stops a command: TERM, then KILL, then closing the channel. OpenSSH (7.9
 * and later) delivers a channel signal to the whole process group of the
 * session (killpg), so the command's children die with it. A server that
 * ignores signal requests only sees the channel close; the command then runs
 * on until it writes to the closed pipe.
 */
export async function killChannel(channel: ClientChannel, closed: Promise<void>): Promise<void> {
  const grace = new AbortController();
  const gone = closed.then(() => grace.abort());
  for (const signal of ["TERM", "KILL"]) {
    if (grace.signal.aborted) break;
    if (!sendSignal(channel, signal)) break;
    await sleep(killGraceMs, grace.signal);
  }
  if (!grace.signal.aborted) channel.close();
  await Promise.race([gone, sleep(killGraceMs, grace.signal)]);
}

interface ChannelInternals {
  _client?: { _protocol?: { signal?(channelId: number, signalName: string): void } };
  outgoing?: { id?: number; state?: string };
}

/**
 * Sends a signal request for `channel`. ssh2's channel.signal() silently
 * does nothing once stdin was closed (it wants a writable stream), yet SSH
 * allows the request after EOF (RFC 4254 6.9) and we always close stdin; so
 * the request goes to ssh2's protocol layer. This reads ssh2 internals,
 * checked against the pinned ssh2 version by the timeout tests.
 */
export function sendSignal(channel: ClientChannel, signal: string): boolean {
  const internals = channel as unknown as ChannelInternals;
  const protocol = internals._client?._protocol;
  const id = internals.outgoing?.id;
  const state = internals.outgoing?.state;
  try {
    if (protocol?.signal && typeof id === "number" && (state === "open" || state === "eof")) {
      protocol.signal(id, signal);
      return true;
    }
    channel.signal(signal);
    return state === "open";
  } catch {
    return false;
  }
}
