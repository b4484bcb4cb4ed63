import { readFile } from "node:fs/promises";
import { makeTestCa } from "./certs.ts";

// PEM files for a Kubernetes-style API server on loopback: a CA, a server
// certificate for 127.0.0.1 and kube.example, and client certificates
// (clientAuth) whose CN names the user, as a cluster's CA issues them.

export interface KubePki {
  dir: string;
  caFile: string;
  caPem: string;
  server: { cert: string; key: string };
  /** A client certificate for CN=`name`; files in `dir`. */
  client(name: string): Promise<{ certFile: string; keyFile: string; cert: string; key: string }>;
}

export async function makeKubePki(): Promise<KubePki> {
  const ca = await makeTestCa("opskit-kube-pki-");
  const read = (file: string) => readFile(file, "utf8");
  const server = await ca.issue("kube-apiserver", { san: "DNS:kube.example,IP:127.0.0.1" });
  return {
    dir: ca.dir,
    caFile: ca.caCert,
    caPem: await read(ca.caCert),
    server: { cert: await read(server.cert), key: await read(server.key) },
    async client(name) {
      const files = await ca.issue(name, { client: true });
      return { certFile: files.cert, keyFile: files.key, cert: await read(files.cert), key: await read(files.key) };
    },
  };
}
