import type { DetailedPeerCertificate, PeerCertificate } from "node:tls";

/** What a probe reports about the certificate a server presented. */
export interface TlsInfo {
  version: string;
  cipher: string;
  subject: string;
  issuer: string;
  altNames: string[];
  notBefore: string;
  notAfter: string;
  /** Milliseconds until notAfter; negative once expired. */
  expiresInMs: number;
  /**
   * The earliest notAfter of the certificates the server presented on the
   * path from its certificate towards a root (blackbox_exporter's
   * probe_ssl_earliest_cert_expiry): an intermediate that expires first
   * breaks the connection as surely as the server's own certificate.
   */
  chainNotAfter: string;
  /** Milliseconds until chainNotAfter; negative once any presented certificate has expired. */
  chainExpiresInMs: number;
  fingerprint256: string;
  /** OpenSSL's verdict on the chain ("" when trusted). */
  chainError: string;
}

function distinguishedName(name: Record<string, string | string[]> | undefined): string {
  if (!name) return "";
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join("+") : value}`)
    .join(", ");
}

/**
 * What describeCertificate reads, through a view of a Bun or node:tls socket.
 * `peerChain` is the peer's certificate with its issuers linked by
 * issuerCertificate (node:tls's getPeerCertificate(true); a Bun socket's
 * getPeerCertificate(false), its flag meaning "abbreviated"). `session` is
 * the serialized TLS session, which holds the certificates the peer sent
 * (BoringSSL, under Bun, keeps the chain as it came).
 */
export interface CertificateSource {
  peerChain(): DetailedPeerCertificate | object | undefined;
  session(): Uint8Array | undefined;
  getTLSVersion(): string | null | undefined;
  getCipher(): { name: string } | undefined;
}

/** A bound on the issuer links followed, should a chain loop without repeating an object. */
const MAX_CHAIN = 32;

/** The peer's certificate and its issuers, in order; the root's link to itself ends it. */
export function certificateChain(leaf: DetailedPeerCertificate | undefined): DetailedPeerCertificate[] {
  const chain: DetailedPeerCertificate[] = [];
  const seen = new Set<object>();
  for (let cert = leaf; cert && cert.valid_to && !seen.has(cert) && chain.length < MAX_CHAIN; cert = cert.issuerCertificate) {
    seen.add(cert);
    chain.push(cert);
  }
  return chain;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle) >= 0;
}

/**
 * The certificates of the chain that the server presented. The TLS stack
 * completes the chain from the trust store (the root, usually), which the
 * server did not send: a certificate counts when its DER is in the session,
 * which keeps what the peer sent. Without a session that holds the leaf,
 * the self-signed certificates (roots, which the store supplies) are left out.
 */
export function presentedCertificates(chain: DetailedPeerCertificate[], session: Uint8Array | undefined): DetailedPeerCertificate[] {
  const leaf = chain[0];
  if (session && leaf?.raw && contains(session, leaf.raw)) return chain.filter((cert) => cert.raw && contains(session, cert.raw));
  return chain.filter((cert, i) => i === 0 || cert.issuerCertificate !== cert);
}

function earliestNotAfter(certs: DetailedPeerCertificate[]): Date | undefined {
  let earliest: Date | undefined;
  for (const cert of certs) {
    const notAfter = new Date(cert.valid_to);
    if (!Number.isNaN(notAfter.getTime()) && (!earliest || notAfter < earliest)) earliest = notAfter;
  }
  return earliest;
}

export function describeCertificate(socket: CertificateSource, chainError: Error | null): TlsInfo {
  const cert = socket.peerChain() as DetailedPeerCertificate | undefined;
  const notAfter = cert?.valid_to ? new Date(cert.valid_to) : undefined;
  const notBefore = cert?.valid_from ? new Date(cert.valid_from) : undefined;
  const chain = certificateChain(cert);
  // A lone certificate is the server's own: no session to serialize.
  const chainNotAfter = earliestNotAfter(chain.length > 1 ? presentedCertificates(chain, socket.session()) : chain) ?? notAfter;
  return {
    version: socket.getTLSVersion() ?? "",
    cipher: socket.getCipher()?.name ?? "",
    subject: distinguishedName(cert?.subject as Record<string, string> | undefined),
    issuer: distinguishedName(cert?.issuer as Record<string, string> | undefined),
    altNames: (cert?.subjectaltname ?? "").split(/,\s*/).filter(Boolean),
    notBefore: notBefore?.toISOString() ?? "",
    notAfter: notAfter?.toISOString() ?? "",
    expiresInMs: notAfter ? notAfter.getTime() - Date.now() : 0,
    chainNotAfter: chainNotAfter?.toISOString() ?? "",
    chainExpiresInMs: chainNotAfter ? chainNotAfter.getTime() - Date.now() : 0,
    fingerprint256: cert?.fingerprint256 ?? "",
    chainError: chainError ? ((chainError as { code?: string }).code ?? chainError.message) : "",
  };
}

interface CertificateProblem {
  code: string;
  message: string;
  hint: string;
}

/**
 * Verification is judged here rather than by the TLS stack so that a bad
 * certificate is still described in the result (subject, expiry) and so an
 * expired certificate reads as "reached but unhealthy", not "unreachable".
 * Bun has already checked the chain and the host name; `verdict` is its error.
 */
export function certificateProblem(info: TlsInfo, verdict: Error | null): CertificateProblem | undefined {
  const code = verdict ? ((verdict as { code?: string }).code ?? "") : "";
  if (code === "CERT_HAS_EXPIRED" || (info.notAfter && info.expiresInMs < 0) || (info.chainNotAfter && info.chainExpiresInMs < 0)) {
    const leafExpired = info.notAfter && info.expiresInMs < 0;
    const chainExpired = info.chainNotAfter && info.chainExpiresInMs < 0;
    return {
      code: "E_TLS_EXPIRED",
      message:
        leafExpired || !chainExpired
          ? `certificate ${leafExpired ? `expired on ${info.notAfter}` : "chain has an expired certificate"}`
          : `a certificate of the chain the server presented (not its own) expired on ${info.chainNotAfter}`,
      hint: "renew the certificate; --insecure probes without verification",
    };
  }
  if (code === "CERT_NOT_YET_VALID") {
    return { code: "E_TLS_NOT_YET_VALID", message: `certificate not valid before ${info.notBefore}`, hint: "check the clocks of this host and the server" };
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return {
      code: "E_TLS_HOSTNAME",
      message: `certificate does not match the host name (${info.altNames.join(", ") || info.subject})`,
      hint: "probe the name the certificate was issued for (?servername= for tls://), or fix its subjectAltName",
    };
  }
  if (verdict) {
    return {
      code: "E_TLS_UNTRUSTED",
      message: `certificate not trusted: ${verdict.message}`,
      hint: "pass the issuing CA with --ca FILE, or --insecure to skip verification",
    };
  }
  return undefined;
}
