import { readFileSync, statSync } from "node:fs";
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

/** A secret file larger than this is not a secret but a mistake; it is left for the step that names it to report. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * Registers with the redactor every secret a config references (any string
 * that is a whole `env:NAME` or `file:/path` reference, wherever it sits)
 * whose value can be read now, without failing on those that cannot: a
 * long-running server then masks a secret from its first line on, also
 * where it arrives before any step resolved it (an alert label, a webhook
 * body echoing it). Returns how many were registered.
 */
export function registerReferencedSecrets(config: unknown, env = process.env): number {
  let registered = 0;
  const seen = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === "string") {
      if (seen.has(value) || !SECRET_REFERENCE.test(value)) return;
      seen.add(value);
      const name = value.slice(value.indexOf(":") + 1);
      if (value.startsWith("env:")) {
        const found = env[name];
        if (found) {
          registerSecret(found, name);
          registered++;
        }
        return;
      }
      try {
        if (statSync(name).size > MAX_SECRET_FILE_BYTES) return;
        fromFile(readFileSync(name, "utf8"));
        registered++;
      } catch {
        // Unreadable now: the step that needs it resolves it then, and says why it cannot.
      }
      return;
    }
    if (Array.isArray(value)) for (const item of value) visit(item);
    else if (value && typeof value === "object") for (const item of Object.values(value)) visit(item);
  };
  visit(config);
  return registered;
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
