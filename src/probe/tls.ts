import { connectOnce, parseSocketTarget, type SocketSpec } from "./tcp.ts";
import type { Prober } from "./types.ts";

/** tls://host:port[?servername=NAME]: handshake, certificate chain, hostname and expiry. */
export const tlsProber: Prober<SocketSpec> = {
  kind: "tls",
  schemes: ["tls"],
  parse: parseSocketTarget,
  run: (spec, context) => connectOnce(spec, context, true),
  status: (result) => result.tls?.version,
};
