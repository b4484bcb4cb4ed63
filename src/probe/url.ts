import { usageError } from "../errors.ts";

/** Port from a URL, or a usage error naming what is missing. */
export function requirePort(url: URL, raw: string): number {
  if (url.port) return Number(url.port);
  throw usageError("E_TARGET_PORT", `target "${raw}" needs a port`, `add one, e.g. ${url.protocol}//${url.hostname}:PORT`);
}

/** Host as the resolver and SNI want it: without IPv6 brackets. */
export function bareHost(url: URL): string {
  const hostname = url.hostname;
  return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
}
