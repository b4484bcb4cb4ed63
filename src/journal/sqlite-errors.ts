import { readdirSync, readlinkSync } from "node:fs";
import { configError, isOpsError, type OpsError } from "../errors.ts";

/**
 * What SQLite (or the file system under it) says about a journal that cannot
 * be used, as an OpsError with the path and the fix. A journal that is
 * read-only, damaged, not a database, gone or on a full disk is the
 * operator's input to correct (exit 65), not a bug in opskit: no stack.
 * Anything else (a constraint, a bug) is left as it is.
 */
export function journalFailure(error: unknown, location: string): OpsError | undefined {
  if (isOpsError(error)) return undefined;
  const { code = "", message = String(error) } = error as { code?: string; message?: string };
  const why = message.split("\n")[0];
  if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return configError(
      "E_JOURNAL_READONLY",
      `the journal at ${location} is read-only (${why})`,
      `make ${location} and its directory writable by this user (SQLite writes ${location}-wal and ${location}-shm beside it), or pass --journal (or set OPSKIT_JOURNAL to) a writable path`,
    );
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return configError(
      "E_JOURNAL_CORRUPT",
      `the journal at ${location} is damaged or not an opskit journal (${why})`,
      `move it aside (mv ${location} ${location}.damaged) and opskit starts a new one, or restore it from a backup; sqlite3 ${location}.damaged .recover salvages what is readable`,
    );
  }
  if (code === "SQLITE_FULL" || code === "ENOSPC") {
    return configError("E_JOURNAL_FULL", `the disk holding the journal at ${location} is full (${why})`, "free space on that file system, or pass --journal a path on another one");
  }
  if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR") || code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
    return configError("E_JOURNAL_OPEN", `cannot use the journal at ${location} (${why})`, "check that the path and its directory exist and are writable, or pass --journal (or set OPSKIT_JOURNAL to) another path");
  }
  return undefined;
}

/** The open descriptor of a deleted file, on Linux: where its data can still be copied from while this process lives. */
export function deletedFileDescriptor(location: string): string | undefined {
  try {
    for (const fd of readdirSync("/proc/self/fd")) {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.endsWith(" (deleted)") && target.slice(0, -" (deleted)".length).endsWith(location.replace(/^\.\//, ""))) return `/proc/${process.pid}/fd/${fd}`;
    }
  } catch {
    // Not Linux, or /proc is not mounted: the hint does without it.
  }
  return undefined;
}
