import type { ClientChannel } from "ssh2";
import type { OpsError } from "../../errors.ts";
import type { SshConnection } from "./connection.ts";
import { raceSignal, reasonOf, startDeadline, type Deadline } from "./deadline.ts";
import { CommandStoppedError, commandTimeoutError, shellError } from "./errors.ts";
import { traceResult } from "./exec.ts";
import { commandOutput, StreamCapture } from "./output.ts";
import { newMarkers, RunFrame, runScript } from "./shell-protocol.ts";
import { GroupReportScanner, newGroupMarker, reportGroup, stopRemoteCommand } from "./stop.ts";
import type { ExecOptions, ExecResult, RemoteShell } from "./types.ts";

interface ActiveRun {
  stdout: RunFrame;
  stderr: RunFrame;
  fail(error: OpsError): void;
}

/**
 * The remote `sh -s` behind a RemoteShell: one channel, one run at a time.
 * It is dead once its channel closed; the RemoteShell then starts another.
 */
class ShellDriver {
  private active: ActiveRun | undefined;
  private isDead = false;
  private readonly closed: Promise<void>;
  private readonly stdoutScan: GroupReportScanner;
  /** The shell's process group, which its runs share (see shell-protocol.ts). */
  private readonly group: Promise<number>;

  private constructor(
    private readonly connection: SshConnection,
    private readonly channel: ClientChannel,
    marker: string,
  ) {
    let reportGroupId!: (pgid: number) => void;
    this.group = new Promise((resolve) => (reportGroupId = resolve));
    this.stdoutScan = new GroupReportScanner(marker, (chunk) => this.active?.stdout.push(chunk), (pgid) => reportGroupId(pgid));
    channel.on("data", (chunk: Buffer) => this.stdoutScan.push(chunk));
    channel.stderr.on("data", (chunk: Buffer) => this.active?.stderr.push(chunk));
    channel.on("error", () => undefined);
    this.closed = new Promise((resolve) => {
      channel.once("close", () => {
        this.isDead = true;
        const why = connection.closed ? connection.lostError() : shellError(connection.endpoint, "exited unexpectedly", "run the step again; a new shell is started");
        this.active?.fail(why);
        this.active = undefined;
        resolve();
      });
    });
  }

  get dead(): boolean {
    return this.isDead;
  }

  /**
   * Opens the channel; the login shell reports its pid, the group's id,
   * and becomes the /bin/sh that reads the runs' scripts.
   */
  static async start(connection: SshConnection, signal: AbortSignal): Promise<ShellDriver> {
    const marker = newGroupMarker();
    const { channel } = await connection.exec(`${reportGroup(marker, 1)}; exec /bin/sh -s`, signal);
    return new ShellDriver(connection, channel, marker);
  }

  /**
   * Writes one framed run and resolves once both streams closed its frame.
   * When the deadline fires first, the shell's process group is killed (see
   * shell-protocol.ts and stop.ts), the driver is dead, and the run fails
   * with a CommandStoppedError as soon as the group was sent TERM.
   */
  async run(command: string, options: ExecOptions, deadline: Deadline, startedAt: number): Promise<ExecResult> {
    if (this.isDead) throw shellError(this.connection.endpoint, "is closed", "open a new one with session.shell()");
    const stdout = new StreamCapture(options.maxOutputBytes, options.onStdout);
    const stderr = new StreamCapture(options.maxOutputBytes, options.onStderr);
    const stdin = options.stdin === undefined ? undefined : typeof options.stdin === "string" ? Buffer.from(options.stdin) : options.stdin;
    const markers = newMarkers();
    const finished = new Promise<number>((resolve, reject) => {
      const check = () => {
        if (!run.stdout.done || !run.stderr.done) return;
        this.active = undefined;
        resolve(run.stdout.status ?? -1);
      };
      const run: ActiveRun = {
        stdout: new RunFrame(markers, true, (chunk) => stdout.push(chunk), check),
        stderr: new RunFrame(markers, false, (chunk) => stderr.push(chunk), check),
        fail: reject,
      };
      this.active = run;
    });
    finished.catch(() => undefined);
    if (deadline.signal.aborted) {
      this.active = undefined;
      throw reasonOf(deadline.signal);
    }
    this.channel.write(runScript(markers, command, stdin));
    let exitCode: number;
    try {
      exitCode = await raceSignal(finished, deadline.signal);
    } catch (error) {
      if (!deadline.signal.aborted || this.isDead) throw error;
      this.isDead = true;
      const run = this.active;
      this.active = undefined;
      run?.stdout.flush();
      run?.stderr.flush();
      const output = commandOutput(stdout, stderr, { code: null, signal: null }, startedAt);
      this.connection.trackStop(stopRemoteCommand({ connection: this.connection, channel: this.channel, group: this.group, closed: this.closed }));
      throw new CommandStoppedError(reasonOf(deadline.signal), output);
    }
    // sh reports a command killed by signal N as status 128+N, which cannot be told apart from `exit 128+N`.
    return commandOutput(stdout, stderr, { code: exitCode, signal: null }, startedAt);
  }

  /** EOF ends the shell once any run in progress is over; the close request drops the channel now. */
  close(): void {
    this.isDead = true;
    this.channel.end();
    this.channel.close();
  }
}

/**
 * A RemoteShell over one pooled connection. The remote shell starts on the
 * first run and again after it died (a run that timed out or was aborted,
 * a dropped channel); runs wait for each other, and a run's timeout counts
 * from its call.
 */
export class PooledShell implements RemoteShell {
  private driver: Promise<ShellDriver> | undefined;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly connection: SshConnection) {}

  async run(command: string, options: ExecOptions): Promise<ExecResult> {
    const startedAt = performance.now();
    const deadline = startDeadline(options.signal, options.timeoutMs, () => commandTimeoutError(this.connection.endpoint, command, options.timeoutMs));
    const previous = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tail = previous.then(() => mine);
    try {
      await raceSignal(previous, deadline.signal);
      if (this.closed) throw shellError(this.connection.endpoint, "is closed", "open a new one with session.shell()");
      const driver = await this.ensureDriver(deadline.signal);
      this.connection.trace(1, `run in the remote shell: ${command}`);
      const result = await driver.run(command, options, deadline, startedAt);
      traceResult(this.connection, result);
      return result;
    } finally {
      deadline.dispose();
      release();
    }
  }

  close(): void {
    this.closed = true;
    const driver = this.driver;
    this.driver = undefined;
    driver?.then((d) => d.close(), () => undefined);
  }

  private async ensureDriver(signal: AbortSignal): Promise<ShellDriver> {
    const current = this.driver ? await this.driver.catch(() => undefined) : undefined;
    if (current && !current.dead) return current;
    const starting = ShellDriver.start(this.connection, signal);
    this.driver = starting;
    starting.catch(() => {
      if (this.driver === starting) this.driver = undefined;
    });
    return starting;
  }
}
