import { openConnection, resolveHost } from "../transport/index.ts";
import { bareHost, requirePort } from "./url.ts";
import type { Observation, ProbeContext, Prober } from "./types.ts";

export interface SocketSpec {
  host: string;
  port: number;
  servername: string;
}

export function parseSocketTarget(url: URL, raw: string): SocketSpec {
  const host = bareHost(url);
  return { host, port: requirePort(url, raw), servername: url.searchParams.get("servername") ?? host };
}

/** Resolves and connects, with TLS when asked; the connection is closed before returning. */
export async function connectOnce(spec: SocketSpec, context: ProbeContext, tls: boolean): Promise<Observation> {
  context.clock.enter("dns");
  const resolved = await resolveHost(spec.host, context.signal);
  if (resolved.dnsMs !== undefined) context.clock.timings.dns = resolved.dnsMs;
  const conn = await openConnection({
    address: resolved.address,
    port: spec.port,
    tls: tls ? { servername: spec.servername, insecure: context.insecure, ca: context.ca, cert: context.clientCert?.cert, key: context.clientCert?.key } : undefined,
    clock: context.clock,
    signal: context.signal,
  });
  conn.close();
  return { ip: resolved.address, tls: conn.tls };
}

export const tcpProber: Prober<SocketSpec> = {
  kind: "tcp",
  schemes: ["tcp"],
  parse: parseSocketTarget,
  run: (spec, context) => connectOnce(spec, context, false),
  // Only a healthy result says the port is open: a failed expectation leaves the column empty.
  status: (result) => (result.verdict === "healthy" ? "open" : undefined),
};
