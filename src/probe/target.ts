import { usageError } from "../errors.ts";
import { probers } from "./probers.ts";
import type { ParsedTarget, RequestOptions } from "./types.ts";

export type { ParsedTarget } from "./types.ts";

const schemeList = () => [...new Set(probers.flatMap((p) => p.schemes))].map((s) => `${s}://`).join(", ");

/** Parses a target such as "https://api:8443/health" or "tcp://db:5432"; bad input is a usage error. */
export function parseTarget(raw: string, where = "target", request: RequestOptions = {}): ParsedTarget {
  const text = raw.trim();
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!schemeMatch) {
    throw usageError("E_TARGET_SCHEME", `${where} "${raw}" has no scheme`, `write it as a URL, e.g. http://${text || "host"}/ or tcp://${text || "host"}:port; known schemes: ${schemeList()}`);
  }
  const scheme = schemeMatch[1]!.toLowerCase();
  const prober = probers.find((p) => p.schemes.includes(scheme));
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
