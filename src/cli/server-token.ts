import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { configError } from "../errors.ts";
import { defaultJournalFile, isPostgresUrl } from "../journal/index.ts";

// opskit serve always wants a token. Without server.token it makes one on
// its first start and keeps it in the state directory beside the journal,
// where the CLI on the same host finds it (as Jupyter does with its token).

/** The generated token's file: server.token beside the journal file; for a PostgreSQL journal, in the state directory (where the default journal file is). */
export function tokenFileFor(journal: string): string {
  return join(dirname(isPostgresUrl(journal) ? defaultJournalFile() : journal), "server.token");
}

/** A configured token must not be empty: an empty one would mean no token at all. */
export function requireNonEmptyToken(value: string, where: string, reference: string): string {
  if (value.trim() !== "") return value;
  const source = reference.startsWith("file:") ? `the file ${reference.slice(5)} is empty` : reference.startsWith("env:") ? `the environment variable ${reference.slice(4)} is empty` : "it is empty";
  throw configError("E_TOKEN_EMPTY", `${where}: ${source}`, reference.startsWith("file:") ? `write the token into ${reference.slice(5)} (e.g. openssl rand -base64 32 > ${reference.slice(5)}), or remove ${where} to use the generated token` : `give ${where} a value, or remove it to use the generated token`);
}

/** Reads a token file; an empty one is an error that names the file and the fix. */
export function readTokenFile(path: string): string {
  let value: string;
  try {
    value = readFileSync(path, "utf8").trim();
  } catch (error) {
    throw configError("E_TOKEN_FILE", `cannot read the token file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, "run as the user opskit serve runs as, or set OPSKIT_TOKEN to the server's token");
  }
  if (value === "") throw configError("E_TOKEN_EMPTY", `the token file ${path} is empty`, `delete it and opskit serve generates a new token at its next start, or write a token into it`);
  return value;
}

/**
 * The generated token for `opskit serve`: read from the file, or created
 * there (32 random bytes, base64url, mode 0600) when there is none yet.
 * A file others may read is refused, as ssh refuses a readable key.
 */
export function loadOrCreateToken(path: string): { token: string; created: boolean } {
  // Every start but the first finds it: read it, with no file written aside.
  if (existsSync(path)) return { token: readExistingToken(path), created: false };
  const token = randomBytes(32).toString("base64url");
  // Written aside, then linked into place: link fails when the file exists, so
  // two servers starting at once end up with one token and no half-written file.
  const aside = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(aside, `${token}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw configError(
      "E_TOKEN_FILE",
      `cannot create the token file ${path}: ${code}`,
      `make ${dirname(path)} writable for the user opskit serve runs as, choose another --journal directory, or set server.token (e.g. env:OPSKIT_TOKEN)`,
    );
  }
  try {
    chmodSync(aside, 0o600);
    linkSync(aside, path);
    return { token, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(aside);
  }
  // Another server created it first.
  return { token: readExistingToken(path), created: false };
}

/** The generated token, refused when others may read its file. */
function readExistingToken(path: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw configError("E_TOKEN_FILE_MODE", `the token file ${path} may be read by others (mode ${mode.toString(8).padStart(4, "0")})`, `chmod 600 ${path}`);
  }
  return readTokenFile(path);
}
