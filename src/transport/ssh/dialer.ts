import type { Duplex } from "node:stream";
import { ExitCode, OpsError } from "../../errors.ts";
import { IdentityCache } from "./auth.ts";
import { openClient, traceFor, type DialContext } from "./connect.ts";
import { SshConnection } from "./connection.ts";
import { raceSignal } from "./deadline.ts";
import { KnownHosts } from "./hostkeys.ts";
import { PooledSession } from "./session.ts";
import { loadSsh2 } from "./ssh2.ts";
import type { SshEndpoint, SshPoolOptions, SshSession } from "./types.ts";

// Everything that needs ssh2 or node builtins, loaded by the pool on its
// first connect, so that importing the pool costs a CLI command nothing.

export interface Dialer {
  /** An authenticated connection to `endpoint`, over `sock` when a ProxyJump hop supplies it. */
  connect(endpoint: SshEndpoint, sock: Duplex | undefined, signal: AbortSignal, onClosed: (connection: SshConnection) => void): Promise<SshConnection>;
  /** A session holding `connection`; `release` is the pool's, called when the session is released. */
  session(connection: SshConnection, release: () => void): SshSession;
}

/** Loads ssh2; each set of known_hosts files is read once for a pool's life, when a host first needs it. */
export async function createDialer(options: SshPoolOptions): Promise<Dialer> {
  const ssh2 = await loadSsh2();
  const loaded = new Map<string, Promise<KnownHosts>>();
  const knownHostsFor = (endpoint: SshEndpoint): Promise<KnownHosts> => {
    const files = endpoint.knownHostsFiles && endpoint.knownHostsFiles.length > 0 ? endpoint.knownHostsFiles : [options.knownHostsFile];
    const key = files.join("\n");
    let known = loaded.get(key);
    if (!known) {
      known = KnownHosts.load(files).catch((error: unknown) => {
        const file = (error as { file?: string }).file ?? files.join(", ");
        throw new OpsError({
          code: "E_SSH_KNOWN_HOSTS",
          message: `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
          hint: "check the known_hosts path and its permissions",
          exitCode: ExitCode.config,
          cause: error,
        });
      });
      loaded.set(key, known);
    }
    return known;
  };
  const context: DialContext = { ssh2, options, knownHostsFor, identities: new IdentityCache(ssh2) };
  return {
    async connect(endpoint, sock, signal, onClosed) {
      const { client, learnedHostKey, knownHosts, timings } = await openClient(endpoint, context, sock, signal);
      if (learnedHostKey) {
        try {
          await raceSignal(knownHosts.flush(), signal);
        } catch (error) {
          client.destroy();
          throw error;
        }
      }
      const connection = new SshConnection(client, endpoint, options.maxChannelsPerConnection ?? 10, onClosed);
      connection.trace = traceFor(endpoint, options.trace);
      connection.timings = timings;
      return connection;
    },
    session: (connection, release) => new PooledSession(connection, release),
  };
}
