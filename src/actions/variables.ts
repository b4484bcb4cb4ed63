import { celDuration } from "../expr/index.ts";
import { stepVariables } from "../probe/index.ts";
import type { ActionResult } from "./types.ts";

/** Names a `when`, `until` or template may use besides a result's own fields. */
export const scopeVariables = ["vars", "target", "env", "steps"] as const;

/** A result's fields as CEL sees them in `until` and in steps.<name>; a probe's (status, body, tls, dns, ...) are named by its protocol. */
export const resultVariables: readonly string[] = ["ok", "changed", "exitCode", "stdout", "stderr", "duration", ...stepVariables, "data", "error"];

export function resultScope(result: ActionResult): Record<string, unknown> {
  const data = result.data ?? {};
  return {
    ok: result.ok,
    changed: result.changed,
    exitCode: result.exitCode === null ? null : BigInt(result.exitCode),
    stdout: result.stdout,
    stderr: result.stderr,
    duration: celDuration(result.durationMs),
    ...Object.fromEntries(stepVariables.map((name) => [name, data[name]])),
    status: typeof data.status === "number" ? BigInt(data.status) : undefined,
    data,
    error: result.error ?? null,
  };
}
