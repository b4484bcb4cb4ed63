import type { SshConnection } from "./connection.ts";
import { execCommand } from "./exec.ts";
import { PooledShell } from "./shell.ts";
import type { ExecOptions, ExecResult, RemoteShell, SshEndpoint, SshSession, UploadOptions, UploadResult } from "./types.ts";
import { uploadFile } from "./upload.ts";

/** An SshSession over one pooled connection; cheap to make, it holds the connection until released. */
export class PooledSession implements SshSession {
  constructor(
    private readonly connection: SshConnection,
    readonly release: () => void,
  ) {}

  get endpoint(): SshEndpoint {
    return this.connection.endpoint;
  }

  exec(command: string, options: ExecOptions): Promise<ExecResult> {
    return execCommand(this.connection, command, options);
  }

  async shell(): Promise<RemoteShell> {
    return new PooledShell(this.connection);
  }

  upload(content: Uint8Array, remotePath: string, mode: number, options: UploadOptions): Promise<UploadResult> {
    return uploadFile(this.connection, content, remotePath, mode, options);
  }
}
