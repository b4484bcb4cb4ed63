import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// PEM files made by OpenSSL for a Kubernetes-style API server on loopback:
// a CA, a server certificate for 127.0.0.1 and kube.example, and client
// certificates (clientAuth) whose CN names the user, as a cluster's CA
// issues them.

export interface KubePki {
  dir: string;
  caFile: string;
  caPem: string;
  server: { cert: string; key: string };
  /** A client certificate for CN=`name`; files in `dir`. */
  client(name: string): Promise<{ certFile: string; keyFile: string; cert: string; key: string }>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const child = Bun.spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const code = await child.exited;
  if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${await new Response(child.stderr).text()}`);
}

export async function makeKubePki(): Promise<KubePki> {
  const dir = await mkdtemp(join(tmpdir(), "opskit-kube-pki-"));
  await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=opskit kube test CA"], dir);
  const sign = async (name: string, subject: string, extensions: string) => {
    await writeFile(join(dir, `${name}.ext`), `${extensions}\n`);
    await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir);
    await openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`], dir);
    return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  };
  const server = await sign("server", "/CN=kube-apiserver", "subjectAltName=DNS:kube.example,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  const read = (file: string) => readFile(file, "utf8");
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    caPem: await read(join(dir, "ca.pem")),
    server: { cert: await read(server.certFile), key: await read(server.keyFile) },
    async client(name) {
      const files = await sign(`client-${name.replace(/[^\w-]/g, "_")}`, `/CN=${name}`, "extendedKeyUsage=clientAuth");
      return { ...files, cert: await read(files.certFile), key: await read(files.keyFile) };
    },
  };
}
