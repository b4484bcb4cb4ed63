import { describe, expect, test } from "bun:test";
import type { DetailedPeerCertificate } from "node:tls";
import { certificateChain, describeCertificate, presentedCertificates } from "./tls-info.ts";

/** A peer certificate as node:tls links them: DER bytes, notAfter, and its issuer. */
function cert(name: string, validTo: string, issuer?: DetailedPeerCertificate): DetailedPeerCertificate {
  const c = { subject: { CN: name }, issuer: {}, valid_from: "Jan  1 00:00:00 2020 GMT", valid_to: validTo, raw: Buffer.from(`<der ${name}>`) } as unknown as DetailedPeerCertificate;
  c.issuerCertificate = issuer ?? c;
  return c;
}

const root = cert("root", "Jan  1 00:00:00 2027 GMT");
const intermediate = cert("intermediate", "Jun  1 00:00:00 2028 GMT", root);
const leaf = cert("leaf", "Jan  1 00:00:00 2029 GMT", intermediate);
const names = (certs: DetailedPeerCertificate[]) => certs.map((c) => c.subject.CN);

describe("the chain a server presented", () => {
  test("the walk follows issuerCertificate and stops at the root's link to itself, or after 32 links of a loop", () => {
    expect(names(certificateChain(leaf))).toEqual(["leaf", "intermediate", "root"]);
    expect(certificateChain(undefined)).toEqual([]);
    // Fresh copies on every link, so no object repeats.
    let copies = 0;
    const endless = (): DetailedPeerCertificate => ({ ...cert(`c${copies++}`, "Jan  1 00:00:00 2030 GMT"), get issuerCertificate() { return endless(); } }) as DetailedPeerCertificate;
    expect(certificateChain(endless()).length).toBe(32);
  });

  test("certificates the trust store completed the chain with are left out: the session holds what the server sent", () => {
    const chain = certificateChain(leaf);
    const sent = Buffer.concat([Buffer.from("session:"), leaf.raw, intermediate.raw]);
    expect(names(presentedCertificates(chain, sent))).toEqual(["leaf", "intermediate"]);
    // A server that sends its root too.
    expect(names(presentedCertificates(chain, Buffer.concat([sent, root.raw])))).toEqual(["leaf", "intermediate", "root"]);
    // No session, or one that does not hold the leaf: self-signed roots are taken to be the store's.
    expect(names(presentedCertificates(chain, undefined))).toEqual(["leaf", "intermediate"]);
    expect(names(presentedCertificates(chain, Buffer.from("opaque")))).toEqual(["leaf", "intermediate"]);
    // A self-signed server certificate is still its own.
    expect(names(presentedCertificates([root], undefined))).toEqual(["root"]);
  });

  test("chainNotAfter is the earliest notAfter presented; notAfter stays the server's own", () => {
    const socket = (session: Uint8Array | undefined) => ({ peerChain: () => leaf, session: () => session, getTLSVersion: () => "TLSv1.3", getCipher: () => ({ name: "TLS_AES_128_GCM_SHA256" }) });
    const info = describeCertificate(socket(Buffer.concat([leaf.raw, intermediate.raw])), null);
    expect(info.notAfter).toBe("2029-01-01T00:00:00.000Z");
    expect(info.chainNotAfter).toBe("2028-06-01T00:00:00.000Z");
    const gap = Date.parse(info.notAfter) - Date.parse(info.chainNotAfter);
    expect(Math.abs(info.expiresInMs - info.chainExpiresInMs - gap)).toBeLessThan(1000);
    const alone = describeCertificate({ ...socket(undefined), peerChain: () => cert("self", "Mar  1 00:00:00 2031 GMT") }, null);
    expect(alone.chainNotAfter).toBe(alone.notAfter);
  });
});
