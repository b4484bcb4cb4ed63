// A PostgreSQL journal's address: told apart from a file path, and shown with
// its password masked wherever it is printed (the journal's location, errors,
// logs, /healthz). Loads no driver: `opskit probe` and the SQLite path import it.
import { MASK, registerSecret } from "../observe/index.ts";

/** Whether a journal location names a PostgreSQL database (postgres:// or postgresql://) rather than a file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Query parameters that carry a secret (password=, sslpassword=). */
const secretParameter = /password/i;

/**
 * The URL as it may be shown: the password (in the authority or a query
 * parameter) replaced by ***. A URL that does not parse is shown as its
 * scheme only, since where its password ends cannot be known.
 */
export function maskPostgresUrl(location: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return `${location.slice(0, location.indexOf(":") + 3)}${MASK}`;
  }
  if (url.password !== "") url.password = MASK;
  for (const key of [...url.searchParams.keys()]) if (secretParameter.test(key)) url.searchParams.set(key, MASK);
  // URLSearchParams would percent-encode the mask; the text is for people, so it reads as written.
  return url.toString().replaceAll(encodeURIComponent(MASK), MASK);
}

/**
 * Registers the URL's passwords as secrets, so that every output opskit
 * redacts (events, logs, errors) masks them even where a library quotes the
 * URL or the password itself; PGPASSWORD, which the driver reads, too.
 */
export function registerPostgresSecrets(location: string, env: Record<string, string | undefined> = process.env): void {
  try {
    const url = new URL(location);
    if (url.password !== "") {
      registerSecret(decodeURIComponent(url.password));
      registerSecret(url.password);
    }
    for (const [key, value] of url.searchParams) if (secretParameter.test(key) && value !== "") registerSecret(value);
  } catch {
    // A URL that does not parse is refused by the driver; it is shown masked (maskPostgresUrl).
  }
  if (env.PGPASSWORD) registerSecret(env.PGPASSWORD);
  // The whole URL with its password is a secret as well: a driver error may quote it.
  if (/:[^:@/]*@/.test(location)) registerSecret(location);
}
