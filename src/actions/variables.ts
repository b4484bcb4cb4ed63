import { celDuration } from "../expr/index.ts";
import type { ActionResult } from "./types.ts";

/** Names a `when`, `until` or template may use besides a result's own fields. */
export const scopeVariables = ["vars", "target", "env", "steps"] as const;

/** A result's fields as CEL sees them in `until` and in steps.<name>. */
export const resultVariables = ["ok", "changed", "exitCode", "stdout", "stderr", "duration", "status", "body", "headers", "tls", "dns", "grpc", "ssh", "data", "error"] as const;

export function resultScope(result: ActionResult): Record<string, unknown> {
  const data = result.data ?? {};
  return {
    ok: result.ok,
    changed: result.changed,
    exitCode: result.exitCode === null ? null : BigInt(result.exitCode),
    stdout: result.stdout,
    stderr: result.stderr,
    duration: celDuration(result.durationMs),
    status: typeof data.status === "number" ? BigInt(data.status) : undefined,
    body: data.body,
    headers: data.headers,
    tls: data.tls,
    dns: data.dns,
    grpc: data.grpc,
    ssh: data.ssh,
    data,
    error: result.error ?? null,
  };
}
