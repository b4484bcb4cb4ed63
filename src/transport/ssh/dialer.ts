import type { Duplex } from "node:stream";
import { ExitCode, OpsError } from "../../errors.ts";
import { IdentityCache } from "./auth.ts";
import { openClient, type DialContext } from "./connect.ts";
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
  session(connection: SshConnection): SshSession;
}

/** Loads ssh2 and reads the known_hosts file, once for a pool's life. */
export async function createDialer(options: SshPoolOptions): Promise<Dialer> {
  const ssh2 = await loadSsh2();
  const knownHosts = await KnownHosts.load(options.knownHostsFile).catch((error: unknown) => {
    throw new OpsError({
      code: "E_SSH_KNOWN_HOSTS",
      message: `cannot read ${options.knownHostsFile}: ${error instanceof Error ? error.message : String(error)}`,
      hint: "check the known_hosts path and its permissions",
      exitCode: ExitCode.config,
      cause: error,
    });
  });
  const context: DialContext = { ssh2, options, knownHosts, identities: new IdentityCache(ssh2) };
  return {
    async connect(endpoint, sock, signal, onClosed) {
      const { client, learnedHostKey } = await openClient(endpoint, context, sock, signal);
      if (learnedHostKey) {
        try {
          await raceSignal(knownHosts.flush(), signal);
        } catch (error) {
          client.destroy();
          throw error;
        }
      }
      return new SshConnection(client, endpoint, options.maxChannelsPerConnection ?? 10, onClosed);
    },
    session: (connection) => new PooledSession(connection),
  };
}
