// Connections: timed DNS resolution, fresh TCP/TLS sockets with phase timings,
// and a one-shot HTTP/1.1 exchange. Protocol probes build on these.
export { PhaseClock, PhaseError, abortError, type Phase } from "./phase.ts";
export { ipFamily, literalAddress, resolveHost, type Resolved } from "./resolve.ts";
export { openConnection, upgradeConnection, type Connection, type ConnectOptions, type TlsOptions } from "./connect.ts";
export { exchange, headerRecord, headerValue, serializeRequest, type HeaderFields, type HttpRequest, type HttpResponse } from "./http1.ts";
export { certificateProblem, describeCertificate, type CertificateSource, type TlsInfo } from "./tls-info.ts";
export { parseListen } from "./listen.ts";
export { openTunnel } from "./tunnel.ts";
