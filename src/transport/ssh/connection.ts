import type { Client, ClientChannel, SFTPWrapper } from "ssh2";
import type { OpsError } from "../../errors.ts";
import { raceSignal, reasonOf, sleep } from "./deadline.ts";
import { channelError, connectError, disconnectedError } from "./errors.ts";
import type { SshEndpoint } from "./types.ts";

/** A channel and the slot it holds; release once the channel has closed. */
export interface ChannelLease<T> {
  channel: T;
  release(): void;
}

/**
 * Counts channels open on one connection. OpenSSH refuses channels past
 * MaxSessions (10 by default) with "open failed", so callers past the limit
 * queue here instead of failing.
 */
class ChannelSlots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.used >= this.limit) {
      let wake: (() => void) | undefined;
      const turn = new Promise<void>((resolve) => (wake = resolve));
      this.waiting.push(wake!);
      try {
        await raceSignal(turn, signal);
      } catch (error) {
        const index = this.waiting.indexOf(wake!);
        if (index >= 0) this.waiting.splice(index, 1);
        // Our turn may have come just as the signal fired: pass it on.
        else this.handOver();
        throw error;
      }
    } else {
      this.used += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.handOver();
    };
  }

  /** Gives a freed slot to the next waiter, or returns it. */
  private handOver(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used -= 1;
  }
}

/** Hooks into opening an exec channel. */
export interface ExecHooks {
  /**
   * Runs as the channel opens, before any await: ssh2 emits `exit` and
   * `close` as plain events, and a fast command's would be lost to
   * listeners attached later. It also runs for a channel that opens after
   * its caller gave up.
   */
  prepare?(channel: ClientChannel): void;
  /**
   * The open request went out: from here on the command may start even if
   * the caller gives up. `opening` settles when the server answered.
   */
  requested?(opening: Promise<ClientChannel>): void;
}

/** One authenticated SSH connection in the pool. */
export class SshConnection {
  private readonly slots: ChannelSlots;
  /** Kept for stopping commands (stop.ts): with every other slot busy, a timed-out command can still be killed. */
  private readonly controlSlots = new ChannelSlots(1);
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private lostBecause: string | undefined;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;
  /** Stops under way (stop.ts), each until TERM reached its command's group. */
  private readonly stops = new Set<Promise<void>>();
  /** -v lines about this connection's work (the pool's trace, or nothing). */
  trace: (level: number, text: string) => void = () => undefined;
  /** How long the connection took to open, for -v's timings. */
  timings: { connectMs: number; authMs: number } = { connectMs: 0, authMs: 0 };

  constructor(
    readonly client: Client,
    readonly endpoint: SshEndpoint,
    maxChannels: number,
    onClosed: (connection: SshConnection) => void,
  ) {
    this.slots = new ChannelSlots(Math.max(1, maxChannels - 1));
    client.on("error", (error: Error) => {
      this.lostBecause ??= error.message;
    });
    this.closedPromise = new Promise((resolve) => {
      client.once("close", () => {
        this.isClosed = true;
        this.sftpSession = undefined;
        onClosed(this);
        resolve();
      });
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Why the connection went away, for results of work that was in flight. */
  lostError(): OpsError {
    return disconnectedError(this.endpoint, this.lostBecause);
  }

  /**
   * A stop under way: the failure it answers is reported at once, while the
   * next command on this connection (a hook, a retry) and the connection's
   * end wait until its TERM was sent, so nothing runs beside the command it
   * stops.
   */
  trackStop(stop: Promise<void>): void {
    const tracked: Promise<void> = stop.catch(() => undefined).finally(() => this.stops.delete(tracked));
    this.stops.add(tracked);
  }

  /** Resolves once every stop under way has sent its TERM (each is bounded by the kill grace period). */
  async stopsSent(): Promise<void> {
    while (this.stops.size > 0) await Promise.all([...this.stops]);
  }

  /** Opens a session channel running `command`, waiting for a free slot first. */
  exec(command: string, signal: AbortSignal, hooks: ExecHooks = {}): Promise<ChannelLease<ClientChannel>> {
    return this.openSession<ClientChannel>("an exec channel", this.slots, signal, (done) => this.client.exec(command, done), hooks);
  }

  /** Like exec, on the slot kept for stopping commands, so it never waits behind the work it stops. */
  control(command: string, signal: AbortSignal, prepare?: (channel: ClientChannel) => void): Promise<ChannelLease<ClientChannel>> {
    return this.openSession<ClientChannel>("a control channel", this.controlSlots, signal, (done) => this.client.exec(command, done), prepare ? { prepare } : {});
  }

  /** A direct-tcpip channel to host:port through this connection (a ProxyJump hop). */
  async forwardOut(host: string, port: number, target: SshEndpoint, signal: AbortSignal): Promise<ClientChannel> {
    if (this.isClosed) throw this.lostError();
    const opened = new Promise<ClientChannel>((resolve, reject) => {
      this.client.forwardOut("127.0.0.1", 0, host, port, (error, channel) => {
        if (error) reject(connectError(target, `${this.endpoint.name} could not open a connection to it (${error.message})`, error));
        else resolve(channel);
      });
    });
    opened.then(
      (channel) => signal.aborted && channel.destroy(),
      () => undefined,
    );
    return raceSignal(opened, signal);
  }

  /**
   * The connection's SFTP session, opened on first use and kept: each
   * upload then costs no channel setup. It holds one slot while open.
   */
  async sftp(signal: AbortSignal): Promise<SFTPWrapper> {
    if (this.isClosed) throw this.lostError();
    let session = this.sftpSession;
    if (!session) {
      const opening = this.openSession<SFTPWrapper>("an SFTP channel", this.slots, signal, (done) => this.client.sftp(done)).then(({ channel, release }) => {
        channel.once("close", () => {
          release();
          if (this.sftpSession === opening) this.sftpSession = undefined;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.sftpSession === opening) this.sftpSession = undefined;
      });
      this.sftpSession = session = opening;
    }
    return raceSignal(session, signal);
  }

  /** Drops the SFTP session (after a timeout left requests in flight); the next upload opens another. */
  resetSftp(): void {
    const session = this.sftpSession;
    this.sftpSession = undefined;
    session?.then((sftp) => sftp.end(), () => undefined);
  }

  /** Ends the connection and waits (boundedly) for it to close. */
  async end(graceMs = 2_000): Promise<void> {
    if (this.isClosed) return;
    await this.stopsSent();
    this.client.end();
    const timeout = new AbortController();
    await Promise.race([this.closedPromise, sleep(graceMs, timeout.signal)]);
    timeout.abort();
    if (!this.isClosed) this.client.destroy();
  }

  private async openSession<T extends { once(event: "close", listener: () => void): unknown; end(): unknown }>(
    what: string,
    slots: ChannelSlots,
    signal: AbortSignal,
    open: (done: (error: Error | undefined, channel: T) => void) => void,
    hooks: { prepare?(channel: T): void; requested?(opening: Promise<T>): void } = {},
  ): Promise<ChannelLease<T>> {
    if (this.isClosed) throw this.lostError();
    // Work waits for the stops under way; the stops themselves (the control slot) do not.
    if (slots !== this.controlSlots) await raceSignal(this.stopsSent(), signal);
    const release = await slots.acquire(signal);
    if (signal.aborted) {
      release();
      throw reasonOf(signal);
    }
    if (this.isClosed) {
      release();
      throw this.lostError();
    }
    const opened = new Promise<T>((resolve, reject) => {
      open((error, channel) => {
        if (!error) {
          // Attached here, not after an await: a fast command's channel may close at once.
          channel.once("close", release);
          hooks.prepare?.(channel);
          return resolve(channel);
        }
        reject(this.isClosed ? this.lostError() : channelError(this.endpoint, what, error.message));
      });
    });
    hooks.requested?.(opened);
    // A channel that opens after its caller gave up gets EOF at once (exec.ts also stops its command).
    opened.then(
      (channel) => {
        if (signal.aborted) channel.end();
      },
      () => release(),
    );
    const channel = await raceSignal(opened, signal);
    return { channel, release };
  }
}
