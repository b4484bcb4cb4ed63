import { timingSafeEqual } from "node:crypto";
import { isOpsError } from "../errors.ts";

/** A JSON response; bigint values (from CEL) become numbers. */
export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? Number(v) : v)), { status, headers: { "content-type": "application/json" } });
}

export function problem(status: number, code: string, message: string, hint?: string): Response {
  return json({ error: { code, message, ...(hint ? { hint } : {}) } }, status);
}

/** Maps an OpsError to its HTTP status: usage and input problems are the caller's (4xx). */
export function problemFrom(error: unknown): Response {
  if (isOpsError(error)) {
    const status = error.code === "E_NOT_FOUND" ? 404 : error.code === "E_STOPPING" ? 503 : error.exitCode === 64 || error.exitCode === 65 ? (error.code === "E_NOTHING_TO_APPROVE" ? 409 : 400) : 500;
    return problem(status, error.code, error.message, error.hint);
  }
  return problem(500, "E_INTERNAL", error instanceof Error ? error.message : String(error));
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

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** Compares a bearer token in constant time. */
export function bearerMatches(request: Request, token: string): boolean {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
