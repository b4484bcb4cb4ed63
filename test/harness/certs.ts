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

/**
 * `openssl ca` is used because it is the one OpenSSL 3.0 command that sets
 * arbitrary validity dates, which an expired certificate needs.
 */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "opskit-pki-"));
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
    ].join("\n"),
  );
  await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=opskit test CA"], dir);
  const now = Date.now();
  const day = 86_400_000;
  const issue = async (name: string, san: string, from: Date, to: Date) => {
    await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`, "-addext", `subjectAltName=${san}`], dir);
    await openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", `${name}.csr`, "-out", `${name}.pem`, "-startdate", stamp(from), "-enddate", stamp(to), "-notext"], dir);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const local = "DNS:localhost,IP:127.0.0.1";
  return {
    dir,
    caCert: join(dir, "ca.pem"),
    valid: await issue("valid", local, new Date(now - day), new Date(now + 30 * day)),
    expired: await issue("expired", local, new Date(now - 10 * day), new Date(now - day)),
    wrongHost: await issue("wronghost", "DNS:other.example", new Date(now - day), new Date(now + 30 * day)),
  };
}
