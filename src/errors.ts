// Errors are values with a stable code, a message that says what happened,
// a hint that says what to do, and the exit code the CLI maps them to.
import { redact } from "./observe/index.ts";

export const ExitCode = {
  ok: 0,
  transport: 1,
  check: 2,
  usage: 64,
  config: 65,
  internal: 70,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface OpsErrorInit {
  code: string;
  message: string;
  hint?: string;
  exitCode: ExitCode;
  cause?: unknown;
}

export class OpsError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(init: OpsErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "OpsError";
    this.code = init.code;
    this.hint = init.hint;
    this.exitCode = init.exitCode;
  }

  toJSON(): { code: string; message: string; hint?: string } {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

export function usageError(code: string, message: string, hint?: string): OpsError {
  return new OpsError({ code, message, hint, exitCode: ExitCode.usage });
}

export function configError(code: string, message: string, hint?: string): OpsError {
  return new OpsError({ code, message, hint, exitCode: ExitCode.config });
}

export function isOpsError(value: unknown): value is OpsError {
  return value instanceof OpsError;
}

/** Formats an error for a person: the message, then the hint on its own line; registered secrets masked. */
export function describeError(error: unknown): string {
  if (isOpsError(error)) {
    return redact(error.hint ? `${error.message}\n  hint: ${error.hint}` : error.message);
  }
  return redact(error instanceof Error ? error.message : String(error));
}
