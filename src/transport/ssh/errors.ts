import { ExitCode, OpsError } from "../../errors.ts";
import { formatMs } from "../../ui/index.ts";
import type { ExecResult, SshEndpoint } from "./types.ts";

/** "web-1 (deploy@10.0.0.5:22)": the name people know and the address that was dialled. */
export function describeEndpoint(endpoint: SshEndpoint): string {
  const address = `${endpoint.user}@${hostPort(endpoint)}`;
  const via = endpoint.proxyJump ? ` via ${endpoint.proxyJump.name}` : "";
  return endpoint.name && endpoint.name !== endpoint.host ? `${endpoint.name} (${address}${via})` : `${address}${via}`;
}

export function hostPort(endpoint: { host: string; port: number }): string {
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export function connectError(endpoint: SshEndpoint, why: string, cause?: unknown): OpsError {
  return new OpsError({
    code: "E_SSH_CONNECT",
    message: `cannot connect to ${describeEndpoint(endpoint)}: ${why}`,
    hint: endpoint.proxyJump
      ? `check that ${endpoint.proxyJump.name} can reach ${hostPort(endpoint)} and allows TCP forwarding`
      : `check that sshd runs on ${hostPort(endpoint)} and that a firewall lets you through`,
    exitCode: ExitCode.transport,
    cause,
  });
}

export function connectTimeoutError(endpoint: SshEndpoint, phase: "connect" | "auth", timeoutMs: number): OpsError {
  const what = phase === "connect" ? "connecting (TCP and SSH key exchange)" : "authentication";
  return new OpsError({
    code: "E_SSH_TIMEOUT",
    message: `${what} to ${describeEndpoint(endpoint)} timed out after ${formatMs(timeoutMs)}`,
    hint:
      phase === "connect"
        ? "check that the host is up and reachable, or raise the connect timeout"
        : "the server accepted the connection but did not finish authentication: check its load and its auth settings (UseDNS, PAM), or raise the auth timeout",
    exitCode: ExitCode.transport,
  });
}

export function authError(endpoint: SshEndpoint, tried: readonly string[], serverMethods: readonly string[] | undefined): OpsError {
  const attempts = tried.length > 0 ? tried.join(", ") : "nothing (no identity file and no ssh-agent)";
  const accepts = serverMethods && serverMethods.length > 0 ? `; the server accepts: ${serverMethods.join(", ")}` : "";
  return new OpsError({
    code: "E_SSH_AUTH",
    message: `authentication as ${endpoint.user} to ${describeEndpoint(endpoint)} failed; tried ${attempts}${accepts}`,
    hint: `check the user name, and that one of these public keys is in ~${endpoint.user}/.ssh/authorized_keys on the host (ssh-copy-id), or load the right key into ssh-agent`,
    exitCode: ExitCode.transport,
  });
}

export function keyFileError(path: string, why: string, hint: string, cause?: unknown): OpsError {
  return new OpsError({ code: "E_SSH_KEY", message: `identity file ${path} ${why}`, hint, exitCode: ExitCode.config, cause });
}

export interface KnownKey {
  file: string;
  line: number;
  keyType: string;
  fingerprint: string;
}

export function hostKeyChangedError(endpoint: SshEndpoint, hostField: string, known: KnownKey, offeredType: string, offered: string): OpsError {
  const typeNote = known.keyType === offeredType ? "" : ` (the host no longer offers a ${known.keyType} key)`;
  return new OpsError({
    code: "E_SSH_HOSTKEY_CHANGED",
    message:
      `host key for ${describeEndpoint(endpoint)} has CHANGED: ${known.file}:${known.line} records ${known.keyType} ${known.fingerprint}, ` +
      `the host offered ${offeredType} ${offered}${typeNote}; refusing to connect`,
    hint:
      `if the host was reinstalled or its keys were rotated, remove the stale entry with ` +
      `ssh-keygen -R '${hostField}' -f ${known.file} (or delete line ${known.line}) and connect again; otherwise someone may be intercepting the connection`,
    exitCode: ExitCode.transport,
  });
}

export function hostKeyRevokedError(endpoint: SshEndpoint, known: KnownKey): OpsError {
  return new OpsError({
    code: "E_SSH_HOSTKEY_REVOKED",
    message: `host key ${known.keyType} ${known.fingerprint} of ${describeEndpoint(endpoint)} is marked @revoked in ${known.file}:${known.line}; refusing to connect`,
    hint: "the host must be given a new host key before anything connects to it",
    exitCode: ExitCode.transport,
  });
}

export function hostKeyUnknownError(endpoint: SshEndpoint, file: string, offeredType: string, offered: string): OpsError {
  return new OpsError({
    code: "E_SSH_HOSTKEY_UNKNOWN",
    message: `host key for ${describeEndpoint(endpoint)} is not in ${file} (offered ${offeredType} ${offered}) and host key checking is strict`,
    hint: "check the fingerprint out of band and add it (ssh-keyscan), or use host key checking accept-new to record keys of new hosts on first use",
    exitCode: ExitCode.transport,
  });
}

export function knownHostsWriteError(file: string, cause: unknown): OpsError {
  return new OpsError({
    code: "E_SSH_KNOWN_HOSTS",
    message: `cannot record a new host key in ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
    hint: "make the known_hosts file and its directory writable, or pre-fill it with ssh-keyscan",
    exitCode: ExitCode.config,
    cause,
  });
}

export function commandTimeoutError(endpoint: SshEndpoint, command: string, timeoutMs: number): OpsError {
  return new OpsError({
    code: "E_SSH_COMMAND_TIMEOUT",
    message: `command timed out after ${formatMs(timeoutMs)} on ${describeEndpoint(endpoint)}: ${abbreviate(command)}`,
    hint: "the command was killed; raise the step's timeout, or find out why it hangs",
    exitCode: ExitCode.check,
  });
}

export function uploadTimeoutError(endpoint: SshEndpoint, remotePath: string, timeoutMs: number): OpsError {
  return new OpsError({
    code: "E_SSH_COMMAND_TIMEOUT",
    message: `upload of ${remotePath} to ${describeEndpoint(endpoint)} timed out after ${formatMs(timeoutMs)}`,
    hint: "raise the step's timeout, or check the link and the remote disk",
    exitCode: ExitCode.check,
  });
}

/**
 * A command stopped by its timeout or an interruption: the reason, and what
 * the command printed until then (a failure's explanation is often there).
 */
export class CommandStoppedError extends OpsError {
  constructor(
    reason: OpsError,
    readonly output: ExecResult,
  ) {
    super({ code: reason.code, message: reason.message, ...(reason.hint !== undefined ? { hint: reason.hint } : {}), exitCode: reason.exitCode, cause: reason });
  }
}

/** The signal's reason when it is an OpsError (a run deadline, say); otherwise E_INTERRUPTED. */
export function interruptedError(signal: AbortSignal): OpsError {
  const reason: unknown = signal.reason;
  if (reason instanceof OpsError) return reason;
  return new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted });
}

export function disconnectedError(endpoint: SshEndpoint, detail?: string): OpsError {
  return new OpsError({
    code: "E_SSH_DISCONNECTED",
    message: `connection to ${describeEndpoint(endpoint)} was lost${detail ? `: ${detail}` : ""}`,
    hint: "the host may have rebooted or the network dropped; run the step again",
    exitCode: ExitCode.transport,
  });
}

export function channelError(endpoint: SshEndpoint, what: string, detail: string): OpsError {
  return new OpsError({
    code: "E_SSH_CHANNEL",
    message: `cannot open ${what} on ${describeEndpoint(endpoint)}: ${detail}`,
    hint: "the server refused a new channel: check MaxSessions in its sshd_config, or lower opskit's channels per connection",
    exitCode: ExitCode.transport,
  });
}

export function shellError(endpoint: SshEndpoint, why: string, hint: string): OpsError {
  return new OpsError({ code: "E_SSH_SHELL", message: `remote shell on ${describeEndpoint(endpoint)} ${why}`, hint, exitCode: ExitCode.transport });
}

export function uploadError(endpoint: SshEndpoint, remotePath: string, why: string, cause?: unknown): OpsError {
  return new OpsError({
    code: "E_SSH_UPLOAD",
    message: `cannot write ${remotePath} on ${describeEndpoint(endpoint)}: ${why}`,
    hint: "check that the directory exists and that the SSH user may write there",
    exitCode: ExitCode.check,
    cause,
  });
}

function abbreviate(command: string): string {
  const line = command.replace(/\s+/g, " ").trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}
