// The org policy and run-time permissions: what a workflow may do and what
// nobody may do, judged before each action runs (guard) and before anyone runs
// a workflow (opskit audit --policy), with the same globs and shell scan.
// Light at load: the guard and the policy file load on first use, and YAML,
// zod, selectors and the actions registry with them.
import type { LoadedConfig, Permissions } from "../config/index.ts";
import type { AuditPolicy } from "./static-check.ts";
import type { Guard, PermissionOptions, Policy } from "./types.ts";

export { scanCommand, sshExports, sudoIn, type ScannedCommand } from "./command-scan.ts";
export { couldMatch, globsOverlap, matchGlob } from "./globs.ts";
export { deniedCommand, deniedGlob, deniedKube, deniedUrl, type AuditPolicy, type PolicyHit } from "./static-check.ts";
export { PermissionDenied, type Denial, type DenialKind, type Guard, type GuardTarget, type PermissionOptions, type Policy, type PolicyRules } from "./types.ts";

/** A workflow's permissions and the org policy as one guard over rendered actions, or nothing when neither applies (guard.ts). */
export async function compilePermissions(workflow: string, permissions: Permissions | undefined, policy: Policy | undefined, options: PermissionOptions): Promise<Guard | undefined> {
  return (await import("./guard.ts")).compilePermissions(workflow, permissions, policy, options);
}

/** Reads a policy file; errors point at file:line:col. */
export async function loadPolicy(path: string, cwd?: string): Promise<Policy> {
  return (await import("./file.ts")).loadPolicy(path, cwd);
}

/** The policy a command runs under: `--policy FILE`, else the config's `policy:`. */
export async function configuredPolicy(loaded: Pick<LoadedConfig, "config" | "baseDir">, override?: string): Promise<Policy | undefined> {
  return (await import("./file.ts")).configuredPolicy(loaded, override);
}

/** A policy file as the audit reads it: with the positions of its rules' values; a missing file exits 64. */
export async function loadAuditPolicy(path: string, cwd?: string): Promise<AuditPolicy> {
  return (await import("./static-check.ts")).loadAuditPolicy(path, cwd);
}
