import { spawnLocal, type ActionResult } from "../actions/index.ts";
import type { SideOutcome } from "./compare.ts";

export interface LocalSideOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  maxOutputBytes: number;
}

/**
 * Runs one side as a local shell command (/bin/sh -c, its own process group,
 * killed at the timeout). A non-zero exit is an outcome to compare; a command
 * that could not start or was stopped is an error.
 */
export async function runLocalSide(command: string, options: LocalSideOptions): Promise<SideOutcome> {
  const startedAt = performance.now();
  try {
    const { output, stopped } = await spawnLocal(command, { ...options, ...(options.env ? { env: options.env } : {}) });
    return {
      exitCode: output.exitCode,
      stdout: output.stdout,
      stderr: output.stderr,
      durationMs: output.durationMs,
      ...(stopped ? { error: stopped.message } : {}),
    };
  } catch (error) {
    return { exitCode: null, stdout: "", stderr: "", durationMs: performance.now() - startedAt, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * A step's result as a side. Unreachable, or failed with neither an exit code
 * nor an HTTP status (timeout, interrupt, bad template), is an error: the
 * step did not produce an outcome to compare.
 */
export function outcomeFromResult(result: ActionResult): SideOutcome {
  const stopped = result.unreachable === true || (!result.ok && result.exitCode === null && result.data?.status === undefined);
  return {
    exitCode: result.exitCode,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: result.durationMs,
    ...(stopped ? { error: result.error?.message ?? "did not run" } : {}),
  };
}

/** The legacy command's outcome as the result of the step it stands in for; read-only work changes nothing. */
export function resultFromOutcome(outcome: SideOutcome): ActionResult {
  const ok = outcome.exitCode === 0 && outcome.error === undefined;
  return {
    ok,
    changed: false,
    exitCode: outcome.exitCode,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    durationMs: outcome.durationMs,
    ...(ok ? {} : { error: { code: outcome.error ? "E_SHADOW_LEGACY" : "E_EXIT_STATUS", message: outcome.error ?? `exit status ${outcome.exitCode}` } }),
    data: { shadow: "legacy" },
  };
}
