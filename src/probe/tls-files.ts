import { ExitCode, OpsError } from "../errors.ts";
import type { ClientCertificate } from "./types.ts";

/** How the files were named where they were given: `--cert`, `checks[2].tls.cert`, ... */
export interface TlsFileNames {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface TlsMaterial {
  ca: string | undefined;
  clientCert: ClientCertificate | undefined;
}

async function readPem(file: string, name: string, exitCode: ExitCode, what: string, marker: string): Promise<string> {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (error) {
    const reason = (error as { code?: string }).code === "ENOENT" ? "no such file" : (error as { code?: string }).code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new OpsError({ code: "E_TLS_FILE", message: `cannot read ${name} ${file}: ${reason}`, hint: `pass a readable PEM file of ${what}`, exitCode });
  }
  if (!text.includes(marker)) throw new OpsError({ code: "E_TLS_FILE", message: `${name} ${file} holds no ${what}`, hint: `pass a PEM file (${marker})`, exitCode });
  return text;
}

/**
 * Reads the CA bundle and the client certificate and key a probe presents;
 * an error names the file and where it was given. As curl, a --cert file
 * may hold its key too, when --key is not given.
 */
export async function readTlsFiles(files: TlsFiles, names: TlsFileNames, exitCode: ExitCode): Promise<TlsMaterial> {
  const ca = files.ca ? await readPem(files.ca, names.ca, exitCode, "CA certificates", "-----BEGIN CERTIFICATE-----") : undefined;
  if (!files.cert) {
    if (files.key) throw new OpsError({ code: "E_TLS_FILE", message: `${names.key} ${files.key} given without ${names.cert}`, hint: `give the client certificate too, ${names.cert} FILE`, exitCode });
    return { ca, clientCert: undefined };
  }
  const cert = await readPem(files.cert, names.cert, exitCode, "certificate", "-----BEGIN CERTIFICATE-----");
  if (!files.key && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(cert)) {
    throw new OpsError({ code: "E_TLS_FILE", message: `${names.cert} ${files.cert} holds no private key`, hint: `give its key with ${names.key} FILE`, exitCode });
  }
  const key = files.key ? await readPem(files.key, names.key, exitCode, "private key", "PRIVATE KEY-----") : cert;
  return { ca, clientCert: { cert, key } };
}
