// The org policy and run-time permissions: what a workflow may do and what
// nobody may do, judged before each action runs (guard) and before anyone runs
// a workflow (opskit audit --policy), with the same globs and shell scan.
// Light at load: YAML, zod, selectors and the actions registry load on first use.
export { scanCommand, sshExports, sudoIn, type ScannedCommand } from "./command-scan.ts";
export { configuredPolicy, loadPolicy } from "./file.ts";
export { couldMatch, globsOverlap, matchGlob } from "./globs.ts";
export { compilePermissions } from "./guard.ts";
export { deniedCommand, deniedGlob, deniedUrl, loadAuditPolicy, type AuditPolicy, type PolicyHit } from "./static-check.ts";
export { PermissionDenied, type Denial, type DenialKind, type Guard, type GuardTarget, type PermissionOptions, type Policy, type PolicyRules } from "./types.ts";
