import { PhaseError, abortError } from "./phase.ts";

export interface Resolved {
  address: string;
  family: 4 | 6;
  /** Milliseconds spent resolving; undefined when the host was an IP literal. */
  dnsMs: number | undefined;
}

/**
 * An IP literal as resolveHost would return it, without a promise: most
 * probes name an address, and an await per probe shows in their cost.
 */
export function literalAddress(host: string): Resolved | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const family = ipFamily(bare);
  return family === undefined ? undefined : { address: bare, family, dnsMs: undefined };
}

/** Resolves a host name through the system resolver (getaddrinfo, /etc/hosts). */
export async function resolveHost(host: string, signal: AbortSignal): Promise<Resolved> {
  const literal = literalAddress(host);
  if (literal) return literal;
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (signal.aborted) throw abortError(signal, "dns");
  const started = performance.now();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal, "dns"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    // Bun's native getaddrinfo; node:dns would add milliseconds to startup.
    const found = (await Promise.race([Bun.dns.lookup(bare, {}), aborted]))[0];
    if (!found) throw Object.assign(new Error("no addresses"), { code: "ENOTFOUND" });
    return { address: found.address, family: found.family === 6 ? 6 : 4, dnsMs: performance.now() - started };
  } catch (error) {
    if (error instanceof PhaseError) throw error;
    const code = (error as { code?: string }).code ?? "";
    const notFound = code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_NODATA" || code === "DNS_ENOTFOUND";
    throw new PhaseError("dns", notFound ? "E_DNS_NOTFOUND" : "E_DNS", notFound ? `host "${bare}" not found` : `cannot resolve "${bare}": ${(error as Error).message}`, {
      hint: notFound ? "check the host name, or the resolver in /etc/resolv.conf" : undefined,
      cause: error,
    });
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Dotted-quad IPv4 as /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(...)){3}$/ reads
 * it: four numbers 0-255 without leading zeros. A scan, not the pattern:
 * compiling it costs `opskit probe URL` more than the whole check.
 */
function isIpv4(host: string): boolean {
  const parts = host.split(".");
  if (parts.length !== 4) return false;
  for (const part of parts) {
    if (part.length < 1 || part.length > 3 || (part.length > 1 && part[0] === "0")) return false;
    for (let i = 0; i < part.length; i++) if (part[i]! < "0" || part[i]! > "9") return false;
    if (Number(part) > 255) return false;
  }
  return true;
}

/** 4 or 6 for an IP literal, undefined for a name. URL parsing has already validated IPv6 literals. */
export function ipFamily(host: string): 4 | 6 | undefined {
  if (isIpv4(host)) return 4;
  if (host.includes(":")) return 6;
  return undefined;
}
