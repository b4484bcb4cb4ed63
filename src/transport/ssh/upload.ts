import { createHash, randomBytes } from "node:crypto";
import { posix } from "node:path";
import type { SFTPWrapper, Stats } from "ssh2";
import type { SshConnection } from "./connection.ts";
import { raceSignal, startDeadline } from "./deadline.ts";
import { uploadError, uploadTimeoutError } from "./errors.ts";
import type { UploadOptions, UploadResult } from "./types.ts";

// SFTP status codes (draft-ietf-secsh-filexfer-02, section 7).
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

type SftpError = Error & { code?: number };

function sftpCall<T>(call: (done: (error: SftpError | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value))));
}

function describeSftpError(error: unknown): string {
  const code = (error as SftpError).code;
  if (code === NO_SUCH_FILE) return "no such file or directory";
  if (code === PERMISSION_DENIED) return "permission denied";
  return error instanceof Error ? error.message : String(error);
}

/**
 * Puts `content` at `remotePath` with `mode`, unless it is already there.
 * The remote file is only read when its size matches, and then hashed here,
 * so the check needs no tools on the host. A new file is written beside the
 * target and renamed over it, so readers never see half a file.
 */
export async function uploadFile(connection: SshConnection, content: Uint8Array, remotePath: string, mode: number, options: UploadOptions): Promise<UploadResult> {
  const sha256 = createHash("sha256").update(content).digest("hex");
  const wanted = mode & 0o7777;
  const deadline = startDeadline(options.signal, options.timeoutMs, () => uploadTimeoutError(connection.endpoint, remotePath, options.timeoutMs));
  const step = <T>(work: Promise<T>) => raceSignal(work, deadline.signal);
  try {
    const sftp = await connection.sftp(deadline.signal);
    const existing = await step(statOrNull(sftp, remotePath));
    if (existing?.isDirectory()) throw uploadError(connection.endpoint, remotePath, "it is a directory");
    if (existing?.isFile() && existing.size === content.length) {
      const current = await step(sftpCall<Buffer>((done) => sftp.readFile(remotePath, done)));
      if (createHash("sha256").update(current).digest("hex") === sha256) {
        if ((existing.mode & 0o7777) === wanted) return { changed: false, sha256 };
        await step(sftpCall<void>((done) => sftp.chmod(remotePath, wanted, done)));
        return { changed: true, sha256 };
      }
    }
    const temporary = posix.join(posix.dirname(remotePath), `.${posix.basename(remotePath)}.opskit-${randomBytes(6).toString("hex")}`);
    try {
      await step(sftpCall<void>((done) => sftp.writeFile(temporary, Buffer.from(content), { mode: wanted }, done)));
      // The server's umask applies to the mode given at open; set it outright.
      await step(sftpCall<void>((done) => sftp.chmod(temporary, wanted, done)));
      await step(replace(sftp, temporary, remotePath));
    } catch (error) {
      if (!deadline.signal.aborted) {
        try {
          sftp.unlink(temporary, () => undefined);
        } catch {
          // The SFTP session is gone; so is any chance to tidy up.
        }
      }
      throw error;
    }
    return { changed: true, sha256 };
  } catch (error) {
    if (deadline.signal.aborted) {
      // Requests may still be in flight on the SFTP session: start afresh next time.
      connection.resetSftp();
      throw error;
    }
    if (error instanceof Error && "code" in error && typeof (error as SftpError).code === "number") {
      throw uploadError(connection.endpoint, remotePath, describeSftpError(error), error);
    }
    throw error;
  } finally {
    deadline.dispose();
  }
}

async function statOrNull(sftp: SFTPWrapper, path: string): Promise<Stats | null> {
  try {
    return await sftpCall<Stats>((done) => sftp.stat(path, done));
  } catch (error) {
    if ((error as SftpError).code === NO_SUCH_FILE) return null;
    throw error;
  }
}

/** Atomic with OpenSSH's posix-rename extension; plain SFTP rename refuses to overwrite. */
async function replace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  try {
    await sftpCall<void>((done) => sftp.ext_openssh_rename(from, to, done));
    return;
  } catch (error) {
    if (typeof (error as SftpError).code === "number") throw error;
    // The server lacks the extension (ssh2 throws before sending anything).
  }
  await sftpCall<void>((done) => sftp.unlink(to, done)).catch((error: SftpError) => {
    if (error.code !== NO_SUCH_FILE) throw error;
  });
  await sftpCall<void>((done) => sftp.rename(from, to, done));
}
