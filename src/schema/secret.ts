import { readFileSync } from "node:fs";
import { configError } from "../errors.ts";
import { registerSecret } from "../observe/index.ts";

/** `env:NAME` or `file:/path`: a secret named where it lives, never written down. */
export const SECRET_REFERENCE = /^(env|file):.+$/;

export function isSecretReference(text: string): boolean {
  return SECRET_REFERENCE.test(text);
}

/**
 * Resolves a secret reference at the moment it is needed: `env:NAME` reads
 * the environment, `file:/path` reads a file (trailing newline dropped).
 * Anything else is taken literally. The value is never stored or printed:
 * a resolved value is registered with the process-wide redactor, so output,
 * events, the journal and errors show it as ***.
 */
export async function resolveSecret(reference: string, where: string, env = process.env): Promise<string> {
  if (reference.startsWith("file:")) {
    const path = reference.slice(5);
    const file = Bun.file(path);
    if (!(await file.exists())) throw configError("E_SECRET_FILE", `${where}: secret file ${path} not found`, "check the path after file:");
    return fromFile(await file.text());
  }
  return resolveSecretNow(reference, where, env);
}

/** The same, read synchronously: for values rendered per target (a step's env:), where a read is cheap. */
export function resolveSecretNow(reference: string, where: string, env = process.env): string {
  if (reference.startsWith("env:")) {
    const name = reference.slice(4);
    const value = env[name];
    if (value === undefined || value === "") throw configError("E_SECRET_ENV", `${where}: environment variable ${name} is not set`, `export ${name}=... before running opskit`);
    registerSecret(value, name);
    return value;
  }
  if (reference.startsWith("file:")) {
    const path = reference.slice(5);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      throw configError("E_SECRET_FILE", `${where}: secret file ${path} not found or unreadable`, "check the path after file: and its permissions");
    }
    return fromFile(text);
  }
  return reference;
}

function fromFile(text: string): string {
  const value = text.replace(/\r?\n$/, "");
  registerSecret(value);
  return value;
}

/** Schema nodes whose value is a secret or names one: validation errors never echo what is there. */
const secretFields = new WeakSet<object>();

export function markSecretField<T extends object>(schema: T): T {
  secretFields.add(schema);
  return schema;
}

export function isSecretField(schema: object): boolean {
  return secretFields.has(schema);
}
