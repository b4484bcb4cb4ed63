import { randomBytes } from "node:crypto";
import type { ClientChannel } from "ssh2";
import { shellQuote } from "../../expr/index.ts";
import type { SshConnection } from "./connection.ts";
import { sleep } from "./deadline.ts";
import { markerPrefixAtEnd } from "./shell-protocol.ts";

// Stopping a remote command (timeout, Ctrl-C) without trusting the server
// with signals: sshd refuses signal requests for ForceCommand sessions,
// other servers ignore them, and closing the channel leaves the command
// running until it writes to the closed pipe.
//
// So every command first reports its process group: sshd starts a session's
// command as a session leader (setsid), and the shell it starts prints its
// own pid, which is the group's id, on a marker line before anything else
// runs. To stop the command, `kill` runs on a second channel of the same
// connection: TERM to the whole group, then KILL to whatever is left after
// a grace period. The remote side carries out the KILL itself, so it happens
// even when opskit exits right after reporting the failure.

/** How long a stopped command gets between TERM and KILL. */
export const killGraceMs = 1_000;

/** A marker made of 128 random bits, fresh per command: the command's own output cannot forge it. */
export function newGroupMarker(): string {
  return `<opskit:P:${randomBytes(16).toString("hex")}>`;
}

/** Shell text that prints the marker and the shell's pid on a line of its own, on stderr (2) or stdout (1). */
export function reportGroup(marker: string, fd: 1 | 2): string {
  return `printf '%s%s\\n' '${marker}' "$$"${fd === 2 ? " >&2" : ""}`;
}

/**
 * `command` for an exec channel, reporting its group on stderr first. The
 * login shell that sshd starts evaluates the command itself, as it would
 * have run it directly; the text is opaque here and travels quoted.
 */
export function commandReportingGroup(command: string, marker: string): string {
  return `${reportGroup(marker, 2)}; eval ${shellQuote(command)}`;
}

const newline = 0x0a;
/** A pid has at most 7 digits on Linux (pid_max 4194304); a longer "line" is not ours. */
const maxDigits = 10;

/**
 * Takes the group report out of one stream: the bytes around the marker
 * line pass on unchanged, the line itself is dropped and its number handed
 * to `onGroup`. Until the marker shows up, bytes at a chunk's end that could
 * begin it are held back.
 */
export class GroupReportScanner {
  private state: "seeking" | "digits" | "done" = "seeking";
  private held: Buffer = Buffer.alloc(0);
  private readonly markerBytes: Buffer;

  constructor(
    marker: string,
    private readonly sink: (chunk: Buffer) => void,
    private readonly onGroup: (pgid: number) => void,
  ) {
    this.markerBytes = Buffer.from(marker);
  }

  push(chunk: Buffer): void {
    if (this.state === "done") {
      if (chunk.length > 0) this.sink(chunk);
      return;
    }
    let data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    if (this.state === "seeking") {
      const at = data.indexOf(this.markerBytes);
      if (at < 0) {
        const keep = markerPrefixAtEnd(data, this.markerBytes);
        if (data.length > keep) this.sink(data.subarray(0, data.length - keep));
        this.held = Buffer.from(data.subarray(data.length - keep));
        return;
      }
      if (at > 0) this.sink(data.subarray(0, at));
      data = data.subarray(at + this.markerBytes.length);
      this.state = "digits";
    }
    const end = data.indexOf(newline);
    if (end < 0) {
      if (data.length > maxDigits) this.giveUp(data);
      else this.held = Buffer.from(data);
      return;
    }
    const text = data.subarray(0, end).toString("latin1");
    if (!/^\d+$/.test(text)) return this.giveUp(data);
    this.state = "done";
    this.onGroup(Number(text));
    if (data.length > end + 1) this.sink(data.subarray(end + 1));
  }

  /** The stream ended: what was held back is output after all. */
  end(): void {
    if (this.held.length > 0) this.sink(this.held);
    this.held = Buffer.alloc(0);
    this.state = "done";
  }

  private giveUp(data: Buffer): void {
    this.state = "done";
    this.sink(data);
  }
}

/** `kill -- -1` would signal every process of the user: only a real group id is ever signalled. */
function isGroupId(pgid: number | undefined): pgid is number {
  return pgid !== undefined && Number.isSafeInteger(pgid) && pgid > 1;
}

const signalledLine = "opskit-term-sent";

/**
 * The script run on the second channel: TERM to the group (to the pid alone
 * when the server did not make it a group leader) and a line saying so; a
 * background job then sends KILL once the grace period is over, unless the
 * group is gone first. The job holds none of the channel's streams, so the
 * channel closes at once and the next stop on this connection need not wait
 * for the grace period (a group whose members are zombies still answers
 * `kill -0` until they are reaped, which on some hosts takes a second).
 */
export function stopScript(pgid: number): string {
  if (!isGroupId(pgid)) throw new Error(`not a process group id: ${pgid}`);
  const rounds = Math.ceil(killGraceMs / 100);
  const waitThenKill = [
    "n=0",
    `while [ $n -lt ${rounds} ] && kill -s 0 -- -$g 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; n=$((n+1)); done`,
    "kill -s KILL -- -$g 2>/dev/null || kill -s KILL $g 2>/dev/null",
  ].join("; ");
  return [`g=${pgid}`, "kill -s TERM -- -$g 2>/dev/null || kill -s TERM $g 2>/dev/null", `echo ${signalledLine}`, `(${waitThenKill}) </dev/null >/dev/null 2>&1 &`].join("; ");
}

export interface StopTarget {
  connection: SshConnection;
  /** The command's channel; undefined when it never opened. */
  channel: ClientChannel | undefined;
  /** Resolves with the reported group id; may never settle. */
  group: Promise<number>;
  /** Resolves once the command's channel closed. */
  closed: Promise<void>;
}

/**
 * Stops a remote command's process group. Resolves once TERM reached the
 * group, or once that cannot happen (no group was reported, the connection
 * is gone), within about one grace period; the KILL and the closing of the
 * channel go on in the background.
 */
export async function stopRemoteCommand(target: StopTarget): Promise<void> {
  const { connection, channel, closed } = target;
  const finished = closed.then(() => "closed" as const);
  // Immediate and free where the server honours it (OpenSSH signals the session's group).
  if (channel) sendSignal(channel, "TERM");
  const first = await Promise.race([target.group, finished, sleep(killGraceMs).then(() => "late" as const)]);
  if (first === "closed") return;
  const pgid = typeof first === "number" && isGroupId(first) ? first : undefined;
  let signalled = false;
  if (pgid !== undefined && !connection.closed) {
    signalled = await runStopScript(connection, pgid, finished);
  }
  void finishStop(channel, finished, signalled);
}

/** Runs stopScript on a control channel; true once TERM was sent. */
async function runStopScript(connection: SshConnection, pgid: number, finished: Promise<"closed">): Promise<boolean> {
  const bound = new AbortController();
  const timer = setTimeout(() => bound.abort(), killGraceMs);
  let markSent!: (sent: boolean) => void;
  const sent = new Promise<boolean>((resolve) => (markSent = resolve));
  try {
    let seen = "";
    const lease = connection.control(stopScript(pgid), bound.signal, (channel) => {
      channel.on("data", (chunk: Buffer) => {
        seen = (seen + chunk.toString("latin1")).slice(-256);
        if (seen.includes(signalledLine)) markSent(true);
      });
      channel.stderr.on("data", () => undefined);
      channel.on("error", () => undefined);
      channel.once("close", () => markSent(seen.includes(signalledLine)));
    });
    lease.then((opened) => opened.channel.end(), () => markSent(false));
    const outcome = await Promise.race([sent, finished, sleep(killGraceMs, bound.signal).then(() => false)]);
    return outcome === true || outcome === "closed";
  } finally {
    clearTimeout(timer);
  }
}

/**
 * After TERM: the channel gets the grace period and the remote KILL to
 * close; then KILL is also asked of the channel and it is closed from this
 * side, which frees its slot.
 */
async function finishStop(channel: ClientChannel | undefined, finished: Promise<"closed">, signalled: boolean): Promise<void> {
  if (!channel) return;
  const gone = new AbortController();
  void finished.then(() => gone.abort());
  await sleep(killGraceMs + (signalled ? 500 : 0), gone.signal);
  if (gone.signal.aborted) return;
  sendSignal(channel, "KILL");
  await sleep(signalled ? 500 : killGraceMs, gone.signal);
  if (!gone.signal.aborted) channel.close();
}

interface ChannelInternals {
  _client?: { _protocol?: { signal?(channelId: number, signalName: string): void } };
  outgoing?: { id?: number; state?: string };
}

/**
 * Sends a signal request for `channel`. ssh2's channel.signal() silently
 * does nothing once stdin was closed (it wants a writable stream), yet SSH
 * allows the request after EOF (RFC 4254 6.9) and we always close stdin; so
 * the request goes to ssh2's protocol layer. This reads ssh2 internals of
 * the pinned version; it is a first, free attempt beside the kill channel,
 * which does not depend on it.
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
