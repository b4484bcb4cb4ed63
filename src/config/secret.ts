import { configError } from "../errors.ts";

/**
 * Resolves a secret reference at the moment it is needed: `env:NAME` reads
 * the environment, `file:/path` reads a file (trailing newline dropped).
 * Anything else is taken literally. The value is never stored or printed.
 */
export async function resolveSecret(reference: string, where: string, env = process.env): Promise<string> {
  if (reference.startsWith("env:")) {
    const name = reference.slice(4);
    const value = env[name];
    if (value === undefined || value === "") throw configError("E_SECRET_ENV", `${where}: environment variable ${name} is not set`, `export ${name}=... before running opskit`);
    return value;
  }
  if (reference.startsWith("file:")) {
    const path = reference.slice(5);
    const file = Bun.file(path);
    if (!(await file.exists())) throw configError("E_SECRET_FILE", `${where}: secret file ${path} not found`, "check the path after file:");
    return (await file.text()).replace(/\r?\n$/, "");
  }
  return reference;
}

/** Replaces every occurrence of the given secret values in text, for logs and the journal. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.replaceAll(secret, "[redacted]");
  return out;
}
