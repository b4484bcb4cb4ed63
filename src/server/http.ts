import { timingSafeEqual } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { isOpsError } from "../errors.ts";

const bigintAsNumber = (_key: string, v: unknown) => (typeof v === "bigint" ? Number(v) : v);

/**
 * What every response of the server carries, the dashboard's page and the
 * API alike: no script, style or frame from anywhere but the server itself,
 * no inline script, no MIME sniffing, no referrer, no framing.
 */
export const securityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** An API answer's headers: the security headers, and no cache keeps it (it holds incidents, labels, output). */
export const apiHeaders: Readonly<Record<string, string>> = { ...securityHeaders, "cache-control": "no-store" };
const jsonHeaders: Readonly<Record<string, string>> = { ...apiHeaders, "content-type": "application/json" };

/** Adds the security headers to a response that lacks them, and no-store unless it says how it may be cached. */
export function secured(response: Response): Response {
  if (response.headers.has("content-security-policy")) return response;
  for (const [name, value] of Object.entries(apiHeaders)) if (!response.headers.has(name)) response.headers.set(name, value);
  return response;
}

/**
 * A JSON response; bigint values (from CEL) become numbers. Written without
 * the replacer first (a replacer makes JSON.stringify call back for every
 * value), and with it only when a bigint makes that throw.
 */
export function json(value: unknown, status = 200): Response {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    text = JSON.stringify(value, bigintAsNumber);
  }
  return new Response(text, { status, headers: jsonHeaders });
}

export function problem(status: number, code: string, message: string, hint?: string): Response {
  return json({ error: { code, message, ...(hint ? { hint } : {}) } }, status);
}

/** Requests that are well formed but clash with the incident's state: nothing waits for approval, it is already resolved. */
const conflicts = new Set(["E_NOTHING_TO_APPROVE", "E_NOTHING_TO_DENY", "E_INCIDENT_RESOLVED", "E_SILENCE_EXPIRED"]);

/** The answer to anything unexpected: a code and a sentence, never the error's text, stack or source. */
export function internalProblem(): Response {
  return problem(500, "E_INTERNAL", "internal error", "the server's log has the detail");
}

/**
 * Maps an OpsError to its HTTP status: usage and input problems are the
 * caller's (4xx). Anything else is a bug: the caller gets a plain 500, and
 * `log` (the server's own log) gets the detail.
 */
export function problemFrom(error: unknown, log?: (error: unknown) => void): Response {
  if (isOpsError(error)) {
    const status = error.code === "E_NOT_FOUND" ? 404 : error.code === "E_STOPPING" || error.code.startsWith("E_JOURNAL_") ? 503 : error.exitCode === 64 || error.exitCode === 65 ? (conflicts.has(error.code) ? 409 : 400) : 500;
    if (status === 500) {
      log?.(error);
      return internalProblem();
    }
    return problem(status, error.code, error.message, error.hint);
  }
  log?.(error);
  return internalProblem();
}

/** Paths that URL parsing leaves as they are: no dot segments, escapes or characters it would encode. */
const plainPath = /^\/[\w/-]*$/;

/** The path of an absolute request URL, as URL's pathname gives it; a plain one without building a URL. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start > 0) {
    const query = url.indexOf("?", start);
    const path = query < 0 ? url.slice(start) : url.slice(start, query);
    if (plainPath.test(path)) return path;
  }
  return new URL(url).pathname;
}

/** Reads a body up to `limit` bytes; undefined when it is larger (the caller answers 413). */
export async function readBody(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > limit) return undefined;
  // A declared length within the limit is read in one call; a chunked body is counted as it comes.
  if (Number.isFinite(declared)) return request.text();
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/**
 * Whether an IP address is loopback (127.0.0.0/8, ::1, or IPv4-mapped
 * 127.x), parsed as an address: a name such as 127.0.0.1.nip.io is not.
 */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  return loopback.check(address, family === 6 ? "ipv6" : "ipv4");
}

const digest = (value: string) => Bun.SHA256.hash(value) as Uint8Array;
/** The server's token's digest, computed once per token rather than once per request. */
let tokenDigest: { token: string; digest: Uint8Array } | undefined;

/**
 * Compares a bearer token in constant time: SHA-256 digests of both sides
 * are compared, so neither the content nor the length of the token leaks.
 */
export function bearerMatches(request: Request, token: string): boolean {
  const header = request.headers.get("authorization") ?? "";
  const given = /^Bearer[ \t]+(.*?)[ \t]*$/i.exec(header)?.[1];
  if (tokenDigest?.token !== token) tokenDigest = { token, digest: digest(token) };
  // Hash something even without a header, so a missing one costs the same as a wrong one.
  const same = timingSafeEqual(digest(given ?? ""), tokenDigest.digest);
  return same && given !== undefined && given !== "";
}
