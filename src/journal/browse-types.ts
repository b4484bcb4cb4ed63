// Browsing the history: pages of incidents and runs filtered and ordered in
// SQL (keyset pagination, never everything loaded), the facts an incident's
// gate state is read from, and a run's steps without their output.
import type { AttemptRecord, IncidentEventRecord, IncidentRecord, IncidentStatus, RunRecord, RunStatus, StepPhase, StepRecord, TargetRecord } from "./types.ts";

export interface IncidentQuery {
  status?: IncidentStatus;
  rule?: string;
  /**
   * Text found in the title, the fingerprint, or a label's name or value:
   * ASCII letters in either case, every other character exactly.
   */
  text?: string;
  /** Only these incidents. */
  ids?: readonly number[];
  /** Incidents whose remediation attempts ran on this target (a run target's name). */
  target?: string;
  /** Incidents that started at or after `since` and before `until` (epoch ms), as MTTR counts them. */
  since?: number;
  until?: number;
  /** The page after an earlier one: incidents with an id below this. */
  before?: number;
  /** At most this many, newest (highest id) first. */
  limit: number;
}

export interface IncidentPage {
  incidents: IncidentRecord[];
  /** How many incidents match the filters (every page together). */
  total: number;
  /** Whether more match after the last of this page. */
  more: boolean;
}

/**
 * What started a run: a rule's remediation attempt, a rule's escalation, a
 * workflow's schedule, or someone (opskit run, exec, wrap, shadow).
 */
export type RunTrigger = "remediation" | "escalation" | "schedule" | "manual";
export const runTriggers: readonly RunTrigger[] = ["remediation", "escalation", "schedule", "manual"];

export interface RunQuery {
  status?: RunStatus;
  /** The run's name: the workflow's, or "exec" for an ad-hoc command. */
  workflow?: string;
  /** Runs that had this target. */
  target?: string;
  trigger?: RunTrigger;
  /** Runs started at or after `since` and before `until` (epoch ms). */
  since?: number;
  until?: number;
  /** Only these runs (an incident's). */
  ids?: readonly string[];
  /** The page after an earlier one: runs that sort after this one (started earlier, or at the same time with a lower id). */
  after?: { startedAt: string; id: string };
  /** At most this many, newest first (started_at, then id, descending). */
  limit: number;
}

export interface RunPage {
  runs: RunRecord[];
  total: number;
  more: boolean;
}

/** A step's result without its output: how long each stream is, in bytes of UTF-8. */
export type StepSummary = Omit<StepRecord, "stdout" | "stderr" | "data" | "resumedFrom"> & { stdoutBytes: number; stderrBytes: number };

/** What an open incident's gate state is read from. */
export interface GateFacts {
  attempts: AttemptRecord[];
  /** The latest timeline line a gate decision wrote (kind "gate" whose data names the gate). */
  gate?: IncidentEventRecord;
  /** The latest escalation line. */
  escalation?: IncidentEventRecord;
}

export interface BrowseStore {
  /** A page of incidents, filtered and ordered in SQL. */
  queryIncidents(query: IncidentQuery): Promise<IncidentPage>;
  /** A page of runs, filtered and ordered in SQL. */
  queryRuns(query: RunQuery): Promise<RunPage>;
  /** For each of these incidents that has any: its attempts and latest gate and escalation lines. */
  gateFacts(incidentIds: readonly number[]): Promise<Map<number, GateFacts>>;
  /** A run, its targets and its steps' results without their output (a 500-target run stays small). */
  runSummary(id: string): Promise<{ run: RunRecord; targets: TargetRecord[]; steps: StepSummary[] } | undefined>;
  /** The targets of these runs, by run id. */
  runTargets(runIds: readonly string[]): Promise<Map<string, TargetRecord[]>>;
  /** One step's recorded output (the latest result of that step on that target); undefined when it has none. */
  stepOutput(runId: string, target: string, phase: StepPhase, index: number): Promise<{ stdout: string; stderr: string } | undefined>;
}
