import { ExitCode, OpsError } from "../errors.ts";
import { CommandStoppedError } from "../transport/ssh/index.ts";
import type { ActionContext, ActionResult, RemoteHost } from "./types.ts";

/**
 * An action that could not run turns into a failed (or unreachable) result,
 * never an exception. A command stopped by its timeout keeps what it printed.
 */
export function failedResult(error: unknown, startedAt: number, unreachable = false): ActionResult {
  const ops =
    error instanceof OpsError ? error : new OpsError({ code: "E_ACTION", message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.check, cause: error });
  const output = error instanceof CommandStoppedError ? error.output : undefined;
  return {
    ok: false,
    changed: false,
    exitCode: null,
    stdout: output?.stdout ?? "",
    stderr: output?.stderr ?? "",
    durationMs: performance.now() - startedAt,
    ...(unreachable ? { unreachable: true } : {}),
    error: ops.toJSON(),
  };
}

/**
 * Runs `work` against the target's connection. Failing to reach the host
 * (connect, auth, host key) makes the result unreachable; anything after
 * that is an ordinary failure.
 */
export async function onHost(context: ActionContext, work: (host: RemoteHost) => Promise<ActionResult>): Promise<ActionResult> {
  const startedAt = performance.now();
  let host: RemoteHost;
  try {
    host = await context.host();
  } catch (error) {
    return failedResult(error, startedAt, !(error instanceof OpsError && error.code === "E_INTERRUPTED"));
  }
  try {
    return await work(host);
  } catch (error) {
    return failedResult(error, startedAt);
  }
}
