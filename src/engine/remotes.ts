import { homedir } from "node:os";
import { join } from "node:path";
import { spawnLocal, type CommandOutput, type EnvironmentBase, type RemoteHost, type RunOptions } from "../actions/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import type { Target } from "../inventory/index.ts";
import { CommandStoppedError, type RemoteShell, type SshEndpoint, type SshPool, type SshSession, type SshTrace } from "../transport/ssh/index.ts";

export interface Remotes {
  connect(target: string, signal: AbortSignal): Promise<RemoteHost>;
  /**
   * Nothing more runs on the target: its remote shell and its hold on the
   * pooled connection end (the connection too, unless other targets share
   * it). A later connect dials again.
   */
  release(target: string): void;
  close(): Promise<void>;
}

/** A remote target as the run holds it: what actions use, and how to let go of it. */
interface HeldHost {
  host: RemoteHost;
  release(): void;
}

/**
 * A target's commands go through one long-lived remote shell on its pooled
 * SSH connection (no new process per step, as Ansible pipelining and mitogen
 * do); a shell that died (a timed-out command kills it) is replaced.
 */
function sshHost(session: SshSession, singleCommand: boolean): HeldHost {
  let shell: RemoteShell | undefined;
  const release = () => {
    shell?.close();
    shell = undefined;
    session.release();
  };
  const host: RemoteHost = {
    async run(command: string, options: RunOptions): Promise<CommandOutput> {
      // One remote command per host (opskit exec): a plain exec channel is cheaper than starting a shell for it.
      if (singleCommand) return session.exec(command, options);
      shell ??= await session.shell();
      try {
        return await shell.run(command, options);
      } catch (error) {
        shell.close();
        shell = undefined;
        throw error;
      }
    },
    upload: (content, remotePath, mode, options) => session.upload(content, remotePath, mode, options),
  };
  return { host, release };
}

/** `targets: local`: remote actions run on this machine, in the environment `environment` starts from. */
export function localHost(environment: EnvironmentBase): RemoteHost {
  return {
    local: true,
    async run(command, options) {
      const { output, stopped } = await spawnLocal(command, { ...options, cwd: process.cwd(), environment });
      // As over SSH: a stopped command fails, and what it printed until then is kept.
      if (stopped) throw new CommandStoppedError(stopped, output);
      return output;
    },
    async upload(content, remotePath, mode) {
      const hasher = new Bun.CryptoHasher("sha256");
      hasher.update(content);
      const sha256 = hasher.digest("hex");
      const existing = Bun.file(remotePath);
      if (await existing.exists()) {
        const old = new Bun.CryptoHasher("sha256");
        old.update(new Uint8Array(await existing.arrayBuffer()));
        if (old.digest("hex") === sha256) return { changed: false, sha256 };
      }
      await Bun.write(remotePath, content);
      const { chmod } = await import("node:fs/promises");
      await chmod(remotePath, mode);
      return { changed: true, sha256 };
    },
  };
}

function endpointFor(target: Target, byName: Map<string, Target>, seen: Set<string> = new Set()): SshEndpoint {
  const endpoint: SshEndpoint = {
    name: target.name,
    host: target.address,
    port: target.port,
    user: target.user,
    identityFiles: target.keys,
    useAgent: Boolean(process.env.SSH_AUTH_SOCK),
    ...(target.knownHostsFiles ? { knownHostsFiles: target.knownHostsFiles } : {}),
    ...(target.hostKeyNotes ? { hostKeyNotes: target.hostKeyNotes } : {}),
    source: target.source,
  };
  if (target.proxyJump) {
    if (seen.has(target.name)) throw new OpsError({ code: "E_SSH_PROXY_LOOP", message: `ProxyJump loop through ${[...seen].join(" -> ")}`, hint: "fix proxyJump in the inventory", exitCode: ExitCode.config });
    const jump = byName.get(target.proxyJump) ?? parseJump(target.proxyJump, target);
    endpoint.proxyJump = endpointFor(jump, byName, new Set([...seen, target.name]));
  }
  return endpoint;
}

/** A ProxyJump written as [user@]host[:port] rather than an inventory name. */
function parseJump(text: string, via: Target): Target {
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  if (!match) throw new OpsError({ code: "E_SSH_PROXY", message: `invalid proxyJump "${text}" on ${via.name}`, hint: "use an inventory host name or [user@]host[:port]", exitCode: ExitCode.config });
  return { name: text, address: match[2]!.replace(/^\[|\]$/g, ""), port: Number(match[3] ?? 22), user: match[1] ?? via.user, labels: {}, vars: {}, groups: [], keys: via.keys, source: via.source };
}

/**
 * `remoteCommands`: how many remote commands each target runs at most (steps
 * of ssh and script). `localEnvironment`: what commands on the local target
 * start from (the minimal base; `opskit wrap` inherits its caller's).
 */
export async function openRemotes(
  loaded: LoadedConfig,
  targets: Target[],
  remoteCommands = Number.POSITIVE_INFINITY,
  localEnvironment: EnvironmentBase = "minimal",
  sshTrace?: SshTrace,
): Promise<Remotes> {
  const byName = new Map(targets.map((t) => [t.name, t]));
  // A kubeconfig context is reached through the Kubernetes API, never over SSH.
  const needsSsh = targets.some((t) => t.source !== "local" && !t.kube);
  let pool: SshPool | undefined;
  if (needsSsh) {
    const { hostKeyChecking, connectTimeoutMs, authTimeoutMs } = loaded.defaults;
    const { SshPool: Pool } = await import("../transport/ssh/index.ts");
    pool = new Pool({
      knownHostsFile: loaded.config.defaults.knownHosts ?? join(process.env.HOME || homedir(), ".ssh", "known_hosts"),
      hostKeyChecking,
      connectTimeoutMs,
      authTimeoutMs,
      ...(sshTrace ? { trace: sshTrace } : {}),
    });
  }
  const hosts = new Map<string, Promise<HeldHost>>();
  return {
    async connect(name, signal) {
      const target = byName.get(name);
      if (!target) throw new OpsError({ code: "E_UNKNOWN_TARGET", message: `unknown target ${name}`, exitCode: ExitCode.internal });
      if (target.source === "local") return localHost(localEnvironment);
      if (target.kube) {
        throw new OpsError({
          code: "E_KUBE_TARGET_HOST",
          message: `target ${name} is Kubernetes context "${target.kube.context}" (${target.source}): it has no host to run commands on`,
          hint: "use kube steps on kubeconfig targets, and run ssh, script, copy and systemd steps on hosts (another workflow, or targets: local)",
          exitCode: ExitCode.config,
        });
      }
      let held = hosts.get(name);
      if (!held) {
        held = pool!.session(endpointFor(target, byName), signal).then((session) => sshHost(session, remoteCommands <= 1));
        // A failed connect is not cached: a retry or a later step may reach the host.
        held.catch(() => hosts.get(name) === held && hosts.delete(name));
        hosts.set(name, held);
      }
      return (await held).host;
    },
    release(name) {
      const held = hosts.get(name);
      if (!held) return;
      hosts.delete(name);
      held.then((h) => h.release(), () => undefined);
    },
    async close() {
      await pool?.close();
    },
  };
}
