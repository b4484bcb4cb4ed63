import type { Permissions } from "../config/index.ts";
import { ExitCode, OpsError } from "../errors.ts";

/** A policy's denials: the same shape as a workflow's permissions, read as "never". */
export type PolicyRules = Permissions;

/** An org policy file: `deny:` wins over any workflow, `require:` applies to every workflow. */
export interface Policy {
  /** The file as its user named it ("policy.yaml"), for messages. */
  source: string;
  deny: PolicyRules;
  require: { permissions: boolean };
  /** file:line:col of a key in the policy file, for messages about it. */
  where?(path: (string | number)[]): string;
}

/** What a denial is about; the label of opskit_policy_denials_total. */
export type DenialKind = "commands" | "sudo" | "http" | "kube" | "hosts" | "require";

/** A denial's facts, kept in the step result's data for the journal and metrics. */
export interface Denial {
  workflow: string;
  kind: DenialKind;
  /** Who denied it: the workflow's permissions, or the policy file. */
  by: "workflow" | "policy";
  /** The rule that decided, e.g. "deny.commands 'rm -rf *'" or "permissions.hosts 'role=api'". */
  rule: string;
}

export class PermissionDenied extends OpsError {
  constructor(
    readonly denial: Denial,
    message: string,
    hint: string,
  ) {
    super({ code: "E_POLICY_DENIED", message, hint, exitCode: ExitCode.check });
  }
}

/** The part of a target the hosts rules look at; `local` is a target named local. */
export interface GuardTarget {
  name: string;
  labels: Record<string, string>;
  groups?: readonly string[];
}

/** A step that runs as another user (become): the words its commands are prefixed with (`sudo -n -u root --`), and the method. */
export interface GuardBecome {
  become: string;
  method: string;
}

/**
 * Checks one rendered action (by its kind in the actions registry) for one
 * target; a denial is returned, never thrown. A become step is judged as
 * using sudo (permissions.sudo, the policy's deny.sudo), and its commands
 * both as written and with the become prefix.
 */
export type Guard = (kind: string, rendered: unknown, target: GuardTarget, become?: GuardBecome) => Promise<PermissionDenied | undefined>;

export interface PermissionOptions {
  /** Directory of the config: script paths are shown relative to it. */
  baseDir: string;
  /** file:line:col of a key under the workflow's permissions, for selector errors. */
  where(key: string): string;
  /** Ad-hoc commands (opskit exec, a rule's escalation) are not workflows: policy denials apply, `require` does not. */
  adHoc?: boolean;
}
