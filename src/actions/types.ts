import type { z } from "zod";
import type { SchemaKit } from "../schema/index.ts";
import type { Escape, Template } from "../expr/index.ts";
import type { OpsError } from "../errors.ts";
import type { ExecOptions, ExecResult } from "../transport/ssh/index.ts";
import type { KubeTargetRef } from "../transport/kube/index.ts";

/** What a remote host offers an action; the engine backs it with a pooled SSH session. */
export interface RemoteHost {
  /** This machine (the `local` target): files need no copy. */
  readonly local?: boolean;
  run(command: string, options: RunOptions): Promise<CommandOutput>;
  upload(content: Uint8Array, remotePath: string, mode: number, options: { timeoutMs: number; signal: AbortSignal }): Promise<{ changed: boolean; sha256: string }>;
}

/** A command's options and output are the SSH transport's: a remote shell and a local one honour the same contract. */
export type RunOptions = ExecOptions;
export type CommandOutput = ExecResult;

/** The target an action runs for, as the action sees it. */
export interface ActionTarget {
  name: string;
  address: string;
  port: number;
  labels: Record<string, string>;
  vars: Record<string, unknown>;
  /** A kubeconfig context (a kubeconfig inventory source's target): what the kube action talks to. */
  kube?: KubeTargetRef;
}

export interface ActionContext {
  target: ActionTarget;
  /** The pooled connection to the target; rejects with an unreachable OpsError. */
  host(): Promise<RemoteHost>;
  signal: AbortSignal;
  timeoutMs: number;
  /** Directory that relative paths in the config are read from. */
  baseDir: string;
  maxOutputBytes: number;
  onOutput?(stream: "stdout" | "stderr", text: string): void;
  /**
   * The step's span as a W3C traceparent (00-<trace id>-<span id>-01), while
   * traces are exported: commands get it as TRACEPARENT in their environment,
   * requests as a traceparent header, so what a step calls can join its trace.
   */
  traceparent?: string;
  /**
   * A person approved what this step asked for in an earlier run (its
   * result's `data.approvalRequest`): the request's `grant`, handed back as
   * the step wrote it. The step does exactly that and nothing else.
   */
  approved?: Readonly<Record<string, unknown>>;
}

/**
 * What a step that will not go on without a person's approval (a Terraform
 * plan that would destroy) puts under its failed result's
 * `data.approvalRequest`. Under `opskit serve` the remediation then waits
 * for approval showing `summary`, and once approved runs again from that
 * step, which gets `grant` as ActionContext.approved; elsewhere it is an
 * ordinary failure.
 */
export interface ApprovalRequest {
  summary: string;
  grant: Record<string, unknown>;
}

/** Every action returns this value; it is what `steps.<name>` and `until` see. */
export interface ActionResult {
  ok: boolean;
  changed: boolean;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The target could not be reached at all (counted apart from failures). */
  unreachable?: boolean;
  error?: ReturnType<OpsError["toJSON"]>;
  /** Protocol fields: status, body, headers, timings for http and probe. */
  data?: Record<string, unknown>;
}

/** What a step would change, for --dry-run: a short status and, when it helps, the detail (a unified diff, sizes and hashes). */
export interface ActionPreview {
  status: "unchanged" | "changed" | "new" | "unknown";
  /** One line: "unchanged", "new file, 120 bytes", "3 lines changed", ... */
  summary: string;
  /** A unified diff of text, secrets masked. */
  diff?: string;
  before?: { sha256: string; bytes: number; mode?: string };
  after?: { sha256: string; bytes: number; mode?: string };
}

/** Renders a compiled spec for one target: templates filled and escaped for their context. */
export type Renderer<R> = (variables: Record<string, unknown>) => R;

export interface CompileContext {
  where: string;
  /** Directory of the config file: relative paths in steps are read from here. */
  baseDir: string;
  variables: readonly string[];
  compileTemplate(text: string, where: string, escape?: Escape): Promise<Template>;
}

/**
 * An action's part of opskit.yaml: the value a step writes under its key.
 * It is built from the config's kit (zod and the shared field types) when the
 * config loads, so an action module does not load zod for a run that reads
 * no config.
 */
export type ActionSchema<Spec> = (kit: SchemaKit) => z.ZodType<Spec>;

/** The spec a schema validates, as the action's compile receives it (defaults filled in). */
export type SpecOf<S extends (kit: SchemaKit) => z.ZodType> = z.output<ReturnType<S>>;

/**
 * What a rendered action touches that permissions and the org policy judge:
 * a command line it runs, a URL it requests (`shown` when the URL must not
 * be printed as it is, e.g. a webhook's token), or a Kubernetes operation
 * (its verb, the object's type in every spelling the server knows it by,
 * its name, and its namespace when it has one).
 */
export type PermissionSubject =
  | { category: "commands"; label: string; command: string }
  | { category: "http"; label: string; url: string; shown?: string }
  | { category: "kube"; label: string; verb: string; kinds: string[]; name: string; namespace?: string; context?: string };

export interface SubjectContext {
  /** Directory of the config: script paths are shown relative to it. */
  baseDir: string;
}

/**
 * One kind of work. `compile` runs once per workflow (templates and CEL
 * checked before anything runs), `run` once per target with the rendered spec.
 */
export interface Action<Spec = unknown, Rendered = unknown> {
  /** The key that names it in a step. */
  readonly kind: string;
  /** Its part of the config: validation, errors at file:line:col and `opskit schema` all come from it. */
  readonly schema: ActionSchema<Spec>;
  /** Whether a `wait` may poll it: it reads state and changes nothing. */
  readonly pollable?: boolean;
  /** Its work goes over the target's connection (context.host()), so a step's become applies to it (a wait: its polled action's). */
  readonly onHost?: boolean | ((spec: Spec) => boolean);
  /**
   * What running it would change, found without changing anything (a copy's
   * diff against the file on the host): --dry-run shows it under the step.
   */
  preview?(rendered: Rendered, context: ActionContext): Promise<ActionPreview>;
  compile(spec: Spec, context: CompileContext): Promise<Renderer<Rendered>>;
  /** One line for plans, progress and the journal, e.g. the rendered command. */
  describe(rendered: Rendered): string;
  /** The commands and URLs it will use, checked against permissions and the org policy before it runs; [] when it uses neither. */
  subjects(rendered: Rendered, context: SubjectContext): PermissionSubject[] | Promise<PermissionSubject[]>;
  run(rendered: Rendered, context: ActionContext): Promise<ActionResult>;
}
