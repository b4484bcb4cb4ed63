// SSH transport for fleet execution: a pool with one connection per host,
// commands over exec channels or one long-lived remote shell, SFTP uploads,
// known_hosts checking and ProxyJump. Importing it is cheap: ssh2 and node
// builtins load on the first connect.
export { CommandStoppedError } from "./errors.ts";
export { SshPool } from "./pool.ts";
export type {
  ExecOptions,
  ExecResult,
  HostKeyChecking,
  RemoteShell,
  SshEndpoint,
  SshPoolOptions,
  SshSession,
  SshTrace,
  UploadOptions,
  UploadResult,
} from "./types.ts";
