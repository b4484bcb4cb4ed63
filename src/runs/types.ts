import type { EnvironmentBase } from "../actions/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import type { CompiledWorkflow, EventSink, PriorProgress, Remotes, RunOutcome, StepApprovals } from "../engine/index.ts";
import type { Policy } from "../policy/index.ts";
import type { Target } from "../inventory/index.ts";
import type { Journal, RunParams, ShadowStore } from "../journal/index.ts";
import type { TraceContext } from "../observe/index.ts";
import type { SshTrace } from "../transport/ssh/index.ts";

/** A run about to start: everything resolved, nothing touched yet. */
export interface PreparedRun {
  kind: "workflow" | "exec";
  /** The run's name in the journal: the workflow, the command (exec), `wrap:NAME`, `escalate:RULE`. */
  name: string;
  loaded: LoadedConfig;
  compiled: CompiledWorkflow;
  targets: Target[];
  vars: Record<string, unknown>;
  params: RunParams;
  /** The org policy the run is under, for messages that point into its file. */
  policy?: Policy;
  /** What commands on the local target start from: the minimal base unless the run stands in for its caller (wrap). */
  localEnvironment?: EnvironmentBase;
}

/** Where a run comes from, recorded in its params so that a resume finds the same config, environment and policy. */
export interface RunOrigin {
  /** -c as given (a resume reads it again from the run's cwd). */
  configPath?: string;
  env?: string;
  /** --policy: the run is under this file, else the config's policy:; recorded as an absolute path. */
  policyPath?: string;
  dryRun?: boolean;
  /** A remediation run started by `opskit serve`: which incident, attempt and rule. */
  trigger?: RunParams["trigger"];
}

/** A line about the run for its output, before it starts or once it finished (a shadow comparison, a fallback). */
export interface RunNote {
  type: string;
  message: string;
}

/** A workflow's `shadow:` declaration applied to one run: the workflow to execute instead, and notes to show. */
export interface RunShadowing {
  compiled: CompiledWorkflow;
  notes: RunNote[];
  /** Once the run finished: what was compared, and a fallback it caused. */
  finish(): RunNote[] | Promise<RunNote[]>;
}

/**
 * Applies a workflow's `shadow:` declaration (shadow/'s shadowRun). Shadowing
 * is a feature above the run service, so callers hand it in; a caller that
 * leaves it out runs the workflow as written (`opskit shadow` compares the
 * workflow itself).
 */
export type ApplyShadow = (
  compiled: CompiledWorkflow,
  options: { name: string; runId: string; journal: ShadowStore; loaded: LoadedConfig; maxOutputBytes: number },
) => RunShadowing | Promise<RunShadowing>;

export interface JournaledRunOptions {
  journal: Journal;
  /** Sinks beside the journal's, in this order: the terminal or --json, metrics, a caller's own. */
  sinks?: readonly EventSink[];
  /** Aborted: nothing new starts, in-flight steps are cancelled, rollbacks still run. */
  signal?: AbortSignal;
  /** Aborted: rollbacks stop too. */
  hardSignal?: AbortSignal;
  /** A run id chosen ahead (a remediation records it on its attempt first); else a new one. */
  runId?: string;
  /** Remote output as step.output events. */
  stream?: boolean;
  /** Kept of each step's stdout and stderr (default 64 KiB). */
  maxOutputBytes?: number;
  /** What an earlier run finished (a resume, a retried remediation): this run continues it and records it as resumedFrom. */
  progress?: PriorProgress;
  /** Steps of the run this one continues that asked for approval and got it (a held remediation, approved). */
  approvals?: StepApprovals;
  /** A person can approve what a step asks (a remediation): such a step holds its target instead of failing it (see RunRequest.approvable). */
  approvable?: boolean;
  /** Targets owing a rollback from the run this one resumes. */
  owedRollback?: Target[];
  shadow?: ApplyShadow;
  onNote?: (note: RunNote) => void;
  /** Connections the caller keeps across several runs (opskit shadow's trials); else opened and closed here. */
  remotes?: Remotes;
  /** -v: what the run's SSH connections do, as lines (opened here, not on `remotes` handed in). */
  sshTrace?: SshTrace;
  /** The trace the run joins (a remediation: its incident's, under the attempt's span); else a new one. */
  trace?: TraceContext;
}

export interface JournaledRun extends RunOutcome {
  runId: string;
  /** The run's W3C trace id, as the journal records it. */
  traceId: string;
}
