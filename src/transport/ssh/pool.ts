import type { Duplex } from "node:stream";
import { ExitCode, OpsError } from "../../errors.ts";
import type { SshConnection } from "./connection.ts";
import { raceSignal, reasonOf, startDeadline } from "./deadline.ts";
import type { Dialer } from "./dialer.ts";
import { connectTimeoutError, interruptedError } from "./errors.ts";
import type { SshEndpoint, SshPoolOptions, SshSession } from "./types.ts";

interface PoolEntry {
  connecting: Promise<SshConnection>;
  connection: SshConnection | undefined;
  /** Callers waiting for the connect; when all of them gave up, it is abandoned. */
  waiters: number;
  controller: AbortController;
  /** Sessions handed out on the connection and not yet released. */
  holders: number;
}

function poolClosedError(): OpsError {
  return new OpsError({ code: "E_SSH_POOL_CLOSED", message: "the SSH connection pool is closed", exitCode: ExitCode.internal });
}

/** Endpoints that differ in anything that changes the connection get their own. */
function endpointKey(endpoint: SshEndpoint): string {
  const auth = `${endpoint.identityFiles.join(",")}${endpoint.useAgent ? "+agent" : ""}`;
  const via = endpoint.proxyJump ? ` via ${endpointKey(endpoint.proxyJump)}` : "";
  return `${endpoint.user}@${endpoint.host}:${endpoint.port} [${auth}]${via}`;
}

/**
 * One SSH connection per host, shared by every session on it. Concurrent
 * callers for the same host share one connect; a connection that drops is
 * forgotten, so the next caller dials again. A connection ends once every
 * session on it was released (a fleet run then holds about as many
 * connections as targets in flight, not one per host it went through), or
 * when the pool closes. A ProxyJump hop is itself a pooled connection,
 * shared by every host behind it and kept until the pool closes.
 */
export class SshPool {
  private readonly entries = new Map<string, PoolEntry>();
  /** Connections released by all their sessions and still closing: close() waits for them too. */
  private readonly ending = new Set<Promise<void>>();
  private dialer: Promise<Dialer> | undefined;
  private isClosed = false;

  constructor(readonly options: SshPoolOptions) {}

  /** A session on the endpoint's pooled connection (dialled if none is open); release it when done with the host. */
  async session(endpoint: SshEndpoint, signal: AbortSignal): Promise<SshSession> {
    const dialer = await raceSignal(this.loadDialer(), signal);
    const { connection, release } = await this.hold(endpoint, signal);
    return dialer.session(connection, release);
  }

  /**
   * The endpoint's connection with one more holder, counted in the same turn
   * as it is found open, so that no release in between can end it under the
   * caller. The release it returns counts once, however often it is called.
   */
  private async hold(endpoint: SshEndpoint, signal: AbortSignal): Promise<{ connection: SshConnection; release: () => void }> {
    const key = endpointKey(endpoint);
    for (;;) {
      const connection = await this.connect(endpoint, signal);
      const entry = this.entries.get(key);
      if (connection.closed) throw connection.lostError();
      // Released by its last holder meanwhile and ending: dial again.
      if (entry?.connection !== connection) continue;
      entry.holders += 1;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        entry.holders -= 1;
        if (entry.holders > 0 || this.entries.get(key) !== entry) return;
        this.entries.delete(key);
        const ending = connection.end().finally(() => this.ending.delete(ending));
        this.ending.add(ending);
      };
      return { connection, release };
    }
  }

  /** Connections established and not yet closed, ProxyJump hops included. */
  openCount(): number {
    let open = 0;
    for (const entry of this.entries.values()) if (entry.connection && !entry.connection.closed) open += 1;
    return open;
  }

  /** Abandons connects in progress and ends every connection. */
  async close(): Promise<void> {
    this.isClosed = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) entry.controller.abort(poolClosedError());
    // Ending is one message per connection and a bounded wait: no pool needed.
    await Promise.all([
      ...entries.map(async (entry) => {
        const connection = entry.connection ?? (await entry.connecting.catch(() => undefined));
        await connection?.end();
      }),
      ...this.ending,
    ]);
  }

  private async connect(endpoint: SshEndpoint, signal: AbortSignal): Promise<SshConnection> {
    if (this.isClosed) throw poolClosedError();
    if (signal.aborted) throw interruptedError(signal);
    const key = endpointKey(endpoint);
    let entry = this.entries.get(key);
    if (entry?.connection?.closed) {
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) entry = this.startConnect(endpoint, key);
    if (entry.connection) return entry.connection;
    entry.waiters += 1;
    try {
      return await raceSignal(entry.connecting, signal);
    } finally {
      entry.waiters -= 1;
      if (!entry.connection && entry.waiters === 0 && this.entries.get(key) === entry) {
        this.entries.delete(key);
        entry.controller.abort(reasonOf(signal));
      }
    }
  }

  private startConnect(endpoint: SshEndpoint, key: string): PoolEntry {
    const controller = new AbortController();
    const entry: PoolEntry = { connecting: Promise.resolve(undefined as never), connection: undefined, waiters: 0, controller, holders: 0 };
    entry.connecting = this.dial(endpoint, key, controller.signal).then(
      (connection) => {
        if (controller.signal.aborted || this.entries.get(key) !== entry) {
          void connection.end();
          throw reasonOf(controller.signal);
        }
        entry.connection = connection;
        return connection;
      },
      (error: unknown) => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw error;
      },
    );
    entry.connecting.catch(() => undefined);
    this.entries.set(key, entry);
    return entry;
  }

  private async dial(endpoint: SshEndpoint, key: string, signal: AbortSignal): Promise<SshConnection> {
    const dialer = await raceSignal(this.loadDialer(), signal);
    let sock: Duplex | undefined;
    if (endpoint.proxyJump) {
      // Held and never released: the hop stays up for every host behind it until the pool closes.
      const { connection: jump } = await this.hold(endpoint.proxyJump, signal);
      const hop = startDeadline(signal, this.options.connectTimeoutMs, () => connectTimeoutError(endpoint, "connect", this.options.connectTimeoutMs));
      try {
        sock = await jump.forwardOut(endpoint.host, endpoint.port, endpoint, hop.signal);
      } finally {
        hop.dispose();
      }
    }
    return dialer.connect(endpoint, sock, signal, (closed) => {
      const entry = this.entries.get(key);
      if (entry?.connection === closed) this.entries.delete(key);
    });
  }

  /** The ssh2 side of the pool, loaded on first use; a failure (unreadable known_hosts) is retried next time. */
  private loadDialer(): Promise<Dialer> {
    if (!this.dialer) {
      const loading = import("./dialer.ts").then(({ createDialer }) => createDialer(this.options));
      this.dialer = loading;
      loading.catch(() => {
        if (this.dialer === loading) this.dialer = undefined;
      });
    }
    return this.dialer;
  }
}
