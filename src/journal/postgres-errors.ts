import { ExitCode, isOpsError, OpsError } from "../errors.ts";

/** What a pg error says about itself: a SQLSTATE from the server, or a Node error code from the socket. */
interface DriverError {
  code?: string;
  message?: string;
  /** Set on errors the server sent (pg-protocol's DatabaseError). */
  severity?: string;
}

/** Socket errors of a server that is not there, or no longer answers. */
const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED", "EHOSTDOWN", "ENETDOWN"]);

/** What pg and pg-pool say, in their own words, when a connection cannot be had or was lost. */
const lostConnection = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Query read timeout|timeout expired)/;

/**
 * Server errors that end the session or refuse it: connection exceptions
 * (class 08), the server shutting down or starting up, too many connections.
 */
function sessionLost(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

/** Whether an error means the connection it came from cannot be used again: the pool must drop it, not reuse it. */
export function connectionBroken(error: unknown): boolean {
  const { code = "", message = "", severity } = (error ?? {}) as DriverError;
  if (severity === "FATAL" || severity === "PANIC") return true;
  return networkCodes.has(code) || sessionLost(code) || lostConnection.test(message);
}

/** The host and port a masked URL names, for the hint's pg_isready. */
function serverOf(location: string): string {
  try {
    const url = new URL(location);
    return `${url.hostname || "localhost"} -p ${url.port || "5432"}`;
  } catch {
    return "HOST -p PORT";
  }
}

function journalError(code: string, message: string, hint: string, exitCode: ExitCode, cause: unknown): OpsError {
  return new OpsError({ code, message, hint, exitCode, cause });
}

/** The journal cannot reach PostgreSQL: what opskit serve answers 503 for, and what it recovers from by itself. */
export function journalUnavailable(location: string, why: string, cause?: unknown): OpsError {
  return journalError(
    "E_JOURNAL_UNAVAILABLE",
    `the journal at ${location} is unavailable: ${why}`,
    `check that PostgreSQL runs and accepts connections there (pg_isready -h ${serverOf(location)}); opskit reconnects by itself once it answers`,
    ExitCode.transport,
    cause,
  );
}

/**
 * What PostgreSQL (or the network before it) says about a journal that
 * cannot be used, as an OpsError naming the journal by its masked URL and
 * the fix: unreachable or lost (E_JOURNAL_UNAVAILABLE), refused credentials,
 * a missing database, a read-only server, a full disk, a lock or statement
 * that waited too long. Anything else (a constraint, a bug) is left as it is.
 */
export function postgresFailure(error: unknown, location: string): OpsError | undefined {
  if (isOpsError(error)) return undefined;
  const { code = "", message = String(error) } = (error ?? {}) as DriverError;
  const why = message.split("\n")[0] || code;
  if (code === "28P01" || code === "28000") {
    return journalError("E_JOURNAL_AUTH", `PostgreSQL refused the journal's login at ${location}: ${why}`, "give the password in the URL, in PGPASSWORD or in ~/.pgpass, and check pg_hba.conf allows this host and user", ExitCode.config, error);
  }
  if (code === "3D000") {
    return journalError("E_JOURNAL_OPEN", `the journal's database at ${location} does not exist: ${why}`, "create it (createdb, or CREATE DATABASE as its owner) or pass --journal another database; opskit creates its tables itself", ExitCode.config, error);
  }
  // Refused logins and missing databases come as FATAL errors too: named before the rest of them.
  if (connectionBroken(error)) return journalUnavailable(location, why, error);
  if (code === "25006") {
    return journalError("E_JOURNAL_READONLY", `the journal at ${location} is read-only: ${why}`, "point --journal at the primary server, not a standby (or a connection pooler that routes writes to it)", ExitCode.config, error);
  }
  if (code === "42501") {
    return journalError("E_JOURNAL_DENIED", `PostgreSQL denied the journal's user at ${location}: ${why}`, "grant the user the right to create tables in the database (or its public schema), or connect as its owner", ExitCode.config, error);
  }
  if (code === "53100") {
    return journalError("E_JOURNAL_FULL", `the disk of the journal's PostgreSQL at ${location} is full: ${why}`, "free space on the database server's disk", ExitCode.config, error);
  }
  if (code === "42P01") {
    return journalError("E_JOURNAL_GONE", `the journal's tables are missing at ${location}: ${why}`, "the database was dropped or replaced while opskit ran: restart opskit to create them again (restore a backup into it first if you have one)", ExitCode.config, error);
  }
  if (code === "55P03" || code === "57014") {
    return journalError("E_JOURNAL_BUSY", `the journal at ${location} did not answer in time: ${why}`, "another process holds the journal's lock or the server is overloaded; it is retried with the next request (pg_stat_activity shows what runs)", ExitCode.transport, error);
  }
  return undefined;
}
