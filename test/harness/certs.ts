import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files made at test time by OpenSSL: a CA and certificates it signed. */
export interface TestPki {
  dir: string;
  caCert: string;
  /** Valid now, for localhost and 127.0.0.1. */
  valid: { cert: string; key: string };
  /** Expired yesterday. */
  expired: { cert: string; key: string };
  /** Valid, but only for other.example. */
  wrongHost: { cert: string; key: string };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const child = Bun.spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const code = await child.exited;
  if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${await new Response(child.stderr).text()}`);
}

const stamp = (date: Date) => `${date.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;

/** A CA made by OpenSSL in a temp dir, and a way to issue certificates it signs. */
export interface TestCa {
  dir: string;
  caCert: string;
  /**
   * A key and certificate with the given common name; a server certificate
   * (serverAuth, for `san`) unless `client` asks for a client one (clientAuth),
   * or `both` for one used at both ends (etcd's gateway calls its own gRPC
   * server with the server's certificate). `intermediate` makes a CA that
   * may sign (pass it as `by`, which signs instead of the root).
   */
  issue(name: string, options?: { san?: string; client?: boolean; both?: boolean; intermediate?: boolean; by?: { cert: string; key: string }; from?: Date; to?: Date }): Promise<{ cert: string; key: string }>;
}

/**
 * `openssl ca` is used because it is the one OpenSSL 3.0 command that sets
 * arbitrary validity dates, which an expired certificate needs.
 */
export async function makeTestCa(prefix = "opskit-pki-"): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, "index.txt"), "");
  await writeFile(join(dir, "serial"), "1000\n");
  await writeFile(
    join(dir, "ca.cnf"),
    [
      "[ca]", "default_ca = local",
      "[local]", `dir = ${dir}`, "database = $dir/index.txt", "serial = $dir/serial", "new_certs_dir = $dir",
      "default_md = sha256", "policy = any", "unique_subject = no", "copy_extensions = copy", "x509_extensions = leaf",
      "[any]", "commonName = supplied",
      "[leaf]", "basicConstraints = CA:FALSE", "keyUsage = digitalSignature, keyEncipherment", "extendedKeyUsage = serverAuth",
      "[client]", "basicConstraints = CA:FALSE", "keyUsage = digitalSignature, keyEncipherment", "extendedKeyUsage = clientAuth",
      "[both]", "basicConstraints = CA:FALSE", "keyUsage = digitalSignature, keyEncipherment", "extendedKeyUsage = serverAuth, clientAuth",
      "[intermediate]", "basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign",
    ].join("\n"),
  );
  await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=opskit test CA"], dir);
  const day = 86_400_000;
  const issue: TestCa["issue"] = async (name, options = {}) => {
    const from = options.from ?? new Date(Date.now() - day);
    const to = options.to ?? new Date(Date.now() + 30 * day);
    const san = options.san ? ["-addext", `subjectAltName=${options.san}`] : [];
    await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`, ...san], dir);
    const extensions = options.intermediate ? ["-extensions", "intermediate"] : options.both ? ["-extensions", "both"] : options.client ? ["-extensions", "client"] : [];
    const signer = options.by ? ["-cert", options.by.cert, "-keyfile", options.by.key] : ["-cert", "ca.pem", "-keyfile", "ca.key"];
    await openssl(["ca", "-batch", "-config", "ca.cnf", ...signer, "-in", `${name}.csr`, "-out", `${name}.pem`, ...extensions, "-startdate", stamp(from), "-enddate", stamp(to), "-notext"], dir);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  return { dir, caCert: join(dir, "ca.pem"), issue };
}

export async function makeTestPki(): Promise<TestPki> {
  const ca = await makeTestCa();
  const now = Date.now();
  const day = 86_400_000;
  const local = "DNS:localhost,IP:127.0.0.1";
  return {
    dir: ca.dir,
    caCert: ca.caCert,
    valid: await ca.issue("valid", { san: local }),
    expired: await ca.issue("expired", { san: local, from: new Date(now - 10 * day), to: new Date(now - day) }),
    wrongHost: await ca.issue("wronghost", { san: "DNS:other.example" }),
  };
}
