// Query parameters of the API's reads, checked at the edge: a bad one is a
// 400 that names the parameter and how to write it, never a guess. Cursors
// are opaque to clients (base64url JSON) and bound to the list they page.
import { OpsError, ExitCode } from "../errors.ts";

/** A 400 about the parameter `name`: what is wrong with it (a sentence that names it) and how to send it. */
export function badParameter(name: string, message: string, hint: string): OpsError {
  return new OpsError({ code: "E_QUERY", message, hint: hint || `fix ${name}`, exitCode: ExitCode.usage });
}

/** The latest epoch ms a toISOString can write as 4-digit years (runs' times are ISO text and must sort). */
const MAX_EPOCH_MS = 253_402_300_799_999;

export class QueryParams {
  readonly #search: URLSearchParams;

  constructor(url: string) {
    this.#search = new URL(url).searchParams;
  }

  /** A text parameter; absent (or empty) is undefined. */
  text(name: string, maxLength = 500): string | undefined {
    const value = this.#search.get(name);
    if (value === null || value === "") return undefined;
    if (value.length > maxLength) throw badParameter(name, `${name} is longer than ${maxLength} characters`, `send at most ${maxLength}`);
    return value;
  }

  /** One of a fixed set of words. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.text(name, 100);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) throw badParameter(name, `${name} must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`, `send ${name}=${allowed[0]} (or another of ${allowed.join(", ")}), or leave it out`);
    return value as T;
  }

  /** An integer from min to max; absent is `fallback`. */
  integer(name: string, min: number, max: number, fallback?: number): number | undefined {
    const value = this.text(name, 30);
    if (value === undefined) return fallback;
    const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw badParameter(name, `${name} must be an integer ${min}..${max}, not ${JSON.stringify(value)}`, `send an integer from ${min} to ${max}`);
    return n;
  }

  /** `limit`: 1..max, default `fallback`. */
  limit(max: number, fallback: number): number {
    const value = this.text("limit", 30);
    if (value === undefined) return fallback;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw badParameter("limit", `limit must be 1..${max}, not ${JSON.stringify(value)}`, `send limit=${fallback} (or up to ${max}) and follow nextCursor for more`);
    return n;
  }

  /** `since` and `until` as epoch ms, since before until when both are given. */
  range(): { since?: number; until?: number } {
    const since = this.integer("since", 0, MAX_EPOCH_MS);
    const until = this.integer("until", 0, MAX_EPOCH_MS);
    if (since !== undefined && until !== undefined && since >= until) throw badParameter("since", `since (${since}) must be before until (${until})`, "send since < until, both epoch milliseconds");
    return { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) };
  }

  /** The `cursor` a previous page gave (its nextCursor), read back for the list `kind`. */
  cursor<T>(kind: string, valid: (value: Record<string, unknown>) => T | undefined): T | undefined {
    const raw = this.text("cursor", 1000);
    if (raw === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    } catch {
      value = undefined;
    }
    const record = value && typeof value === "object" && (value as Record<string, unknown>).k === kind ? valid(value as Record<string, unknown>) : undefined;
    if (record === undefined) throw badParameter("cursor", "cursor is not one this list gave out", "send the nextCursor of the previous page unchanged, with the same filters, or leave it out for the first page");
    return record;
  }
}

/** The nextCursor of a page of the list `kind`: where the next page starts. */
export function encodeCursor(kind: string, position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ k: kind, ...position }), "utf8").toString("base64url");
}
