/** How to reach one host over SSH. */
export interface SshEndpoint {
  /** The target's name, used in messages. */
  name: string;
  host: string;
  port: number;
  user: string;
  /** Private key files tried in order; `~/` is expanded. */
  identityFiles: string[];
  /** Also try the keys in ssh-agent when SSH_AUTH_SOCK is set. */
  useAgent: boolean;
  /** Reach `host` through this one first, like OpenSSH's ProxyJump. */
  proxyJump?: SshEndpoint;
  /** known_hosts files for this host instead of the pool's knownHostsFile (ssh_config's UserKnownHostsFile). */
  knownHostsFiles?: string[];
  /** Settings that asked for less host key checking and were not followed; a refused key's hint repeats them. */
  hostKeyNotes?: string[];
  /** Where the host's settings come from (`opskit.yaml:12:5`, `~/.ssh/config:14`, `-H`), for -v. */
  source?: string;
}

/**
 * What connections do, told as `ssh -v` tells it (opskit's -v, -vv, -vvv):
 * level 1 the connection (address, user, ProxyJump), the auth methods tried
 * and the one accepted, the host-key decision, each command and the timings;
 * 2 adds channels, exit details and the settings used; 3 adds ssh2's own
 * debug lines. Lines may hold a rendered command: the writer masks secrets.
 */
export interface SshTrace {
  level: number;
  line(endpoint: SshEndpoint, level: number, text: string): void;
}

export type HostKeyChecking = "strict" | "accept-new" | "off";

export interface SshPoolOptions {
  /** OpenSSH known_hosts format; hashed (|1|...) and wildcard entries are read. */
  knownHostsFile: string;
  /**
   * strict: unknown hosts are refused. accept-new: unknown host keys are
   * appended to knownHostsFile. off: nothing is checked. A host whose key
   * differs from the recorded one is refused in strict and accept-new.
   */
  hostKeyChecking: HostKeyChecking;
  /** TCP connect plus the SSH key exchange (and a ProxyJump hop's channel). */
  connectTimeoutMs: number;
  /** From the end of the key exchange to an authenticated session. */
  authTimeoutMs: number;
  /**
   * Channels (exec, shell, SFTP) open at once on one connection; more wait.
   * OpenSSH refuses more than MaxSessions (default 10) per connection. One
   * of them is kept for stopping timed-out or interrupted commands.
   */
  maxChannelsPerConnection?: number;
  /** ssh-agent socket for endpoints with useAgent; defaults to SSH_AUTH_SOCK. */
  agentSocket?: string;
  /** SSH-level keepalive on idle pooled connections, so a dead peer is noticed. */
  keepaliveIntervalMs?: number;
  /** -v: what each connection does, as lines (see SshTrace). */
  trace?: SshTrace;
}

export interface ExecOptions {
  timeoutMs: number;
  signal: AbortSignal;
  stdin?: string | Uint8Array;
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
  /** Per stream; the tail is kept, since the end of the output explains a failure. */
  maxOutputBytes: number;
}

export interface ExecResult {
  /** null when the command was killed by a signal. */
  exitCode: number | null;
  /** e.g. "SIGKILL", when the remote reports one. */
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
}

export interface UploadOptions {
  timeoutMs: number;
  signal: AbortSignal;
}

export interface UploadResult {
  changed: boolean;
  sha256: string;
}

/** One host's pooled connection, as the engine sees it. */
export interface SshSession {
  readonly endpoint: SshEndpoint;
  /**
   * Runs a command on a new channel of the pooled connection. A non-zero exit
   * is a result. Past the timeout or on the signal, the command's process
   * group is killed and the call fails with a CommandStoppedError (the
   * output so far) once the group was sent TERM.
   */
  exec(command: string, options: ExecOptions): Promise<ExecResult>;
  /** A long-lived /bin/sh on its own channel for many commands in sequence; it starts on its first run. */
  shell(): Promise<RemoteShell>;
  /**
   * Writes `content` to `remotePath` over SFTP with `mode`. Skipped
   * (changed: false) when the file already has this content and mode.
   */
  upload(content: Uint8Array, remotePath: string, mode: number, options: UploadOptions): Promise<UploadResult>;
  /**
   * The caller is done with the host: once no session on the connection is
   * held, the pool ends it (a later session dials again). Work still running
   * on it is not waited for; release after it settled. Only the first call counts.
   */
  release(): void;
}

/**
 * One remote /bin/sh that runs many commands in sequence over one channel
 * (like Ansible pipelining): each run has its own exit code, stdout and
 * stderr. Runs are serialised; each runs in a subshell of the remote shell,
 * so `cd`, `export` or `exit` in one run does not carry over. Commands are
 * run by /bin/sh, not the login shell that exec uses. A run that times out
 * or is aborted is killed together with the remote shell (one process
 * group) and fails as exec's do; the next run starts a new shell. A command killed by a signal
 * reports exit code 128+N and signal null (sh cannot tell them apart).
 * stdin travels escaped inside the script: send large inputs with exec.
 */
export interface RemoteShell {
  run(command: string, options: ExecOptions): Promise<ExecResult>;
  close(): void;
}
