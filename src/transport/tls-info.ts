import type { PeerCertificate } from "node:tls";

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

/** What describeCertificate reads: a Bun TLS socket has it, and so can a node:tls socket through a view. */
export interface CertificateSource {
  getPeerCertificate(): PeerCertificate | object | undefined;
  getTLSVersion(): string | null | undefined;
  getCipher(): { name: string } | undefined;
}

export function describeCertificate(socket: CertificateSource, chainError: Error | null): TlsInfo {
  const cert = socket.getPeerCertificate() as PeerCertificate | undefined;
  const notAfter = cert?.valid_to ? new Date(cert.valid_to) : undefined;
  const notBefore = cert?.valid_from ? new Date(cert.valid_from) : undefined;
  return {
    version: socket.getTLSVersion() ?? "",
    cipher: socket.getCipher()?.name ?? "",
    subject: distinguishedName(cert?.subject as Record<string, string> | undefined),
    issuer: distinguishedName(cert?.issuer as Record<string, string> | undefined),
    altNames: (cert?.subjectaltname ?? "").split(/,\s*/).filter(Boolean),
    notBefore: notBefore?.toISOString() ?? "",
    notAfter: notAfter?.toISOString() ?? "",
    expiresInMs: notAfter ? notAfter.getTime() - Date.now() : 0,
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
  if (code === "CERT_HAS_EXPIRED" || (info.notAfter && info.expiresInMs < 0)) {
    return {
      code: "E_TLS_EXPIRED",
      message: `certificate expired on ${info.notAfter}`,
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
