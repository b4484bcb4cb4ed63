import { usageError } from "../errors.ts";
import { probers } from "./probers.ts";
import type { ParsedTarget, Prober, RequestOptions } from "./types.ts";

export type { ParsedTarget } from "./types.ts";

const schemeList = () => [...new Set(probers.flatMap((p) => p.schemes))].map((s) => `${s}://`).join(", ");

/** Parses a target such as "https://api:8443/health" or "tcp://db:5432"; bad input is a usage error. */
export function parseTarget(raw: string, where = "target", request: RequestOptions = {}): ParsedTarget {
  const text = raw.trim();
  const scheme = schemeOf(text);
  if (scheme === undefined) {
    throw usageError("E_TARGET_SCHEME", `${where} "${raw}" has no scheme`, `write it as a URL, e.g. http://${text || "host"}/ or tcp://${text || "host"}:port; known schemes: ${schemeList()}`);
  }
  let prober: Prober | undefined;
  for (const candidate of probers) if (!prober && candidate.schemes.includes(scheme)) prober = candidate;
  if (!prober) {
    throw usageError("E_TARGET_SCHEME", `${where} "${raw}": unknown scheme "${scheme}://"`, `known schemes: ${schemeList()}`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError("E_TARGET_URL", `${where} "${raw}" is not a valid URL`, `check the host and port, e.g. ${scheme}://127.0.0.1:8080`);
  }
  if (!url.hostname) throw usageError("E_TARGET_URL", `${where} "${raw}" has no host`, `e.g. ${scheme}://127.0.0.1:8080`);
  return { raw: text, prober, spec: prober.parse(url, text, request) };
}

/** The prober a target's scheme names, or undefined (no scheme, or an unknown one); the rest of the text is not read. */
export function proberOfTarget(text: string): Prober | undefined {
  const scheme = schemeOf(text.trim());
  if (scheme === undefined) return undefined;
  for (const candidate of probers) if (candidate.schemes.includes(scheme)) return candidate;
  return undefined;
}

const isLetter = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");

/**
 * The scheme of `scheme://...` in lower case, as /^([a-z][a-z0-9+.-]*):\/\//i
 * reads it; undefined when there is none. A scan rather than the pattern:
 * compiling a regular expression costs a probe's startup more than this.
 */
function schemeOf(text: string): string | undefined {
  const end = text.indexOf("://");
  if (end < 1 || !isLetter(text[0]!)) return undefined;
  for (let i = 1; i < end; i++) {
    const c = text[i]!;
    if (!isLetter(c) && !(c >= "0" && c <= "9") && c !== "+" && c !== "." && c !== "-") return undefined;
  }
  return text.slice(0, end).toLowerCase();
}
