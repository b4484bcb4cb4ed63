/** The phases of an incident's life that `opskit mttr` measures, from its milestones. */
export type Phase = "detect" | "isolate" | "recover" | "resolve";
export const phases: readonly Phase[] = ["detect", "isolate", "recover", "resolve"];

/** Durations of one phase over a set of incidents, in milliseconds. Absent when count is 0. */
export interface PhaseStats {
  count: number;
  mean?: number;
  median?: number;
  p90?: number;
  p99?: number;
  min?: number;
  max?: number;
}

/** One set of incidents measured together: everything, or one side of a comparison. */
export interface Cohort {
  /** "all", "automated", "manual", "before 2026-10-01", "from 2026-10-01", "2026-10-26 to 2026-11-25" */
  label: string;
  /** Started at or after `since` and before `until` (epoch ms; absent = unbounded). */
  since?: number;
  until?: number;
  /** Incidents that started in the range, open ones included. */
  incidents: number;
  resolved: number;
  /** Still open: reported apart, never averaged in. */
  open: number;
  automated: number;
  manual: number;
  escalated: number;
  /** Remediation attempts over these incidents. */
  attempts: number;
  phases: Record<Phase, PhaseStats>;
}

export interface GroupReport {
  /** The group's value ("checkout"), or "(none)" for incidents without it. */
  group: string;
  /** The same cohorts, in the same order, as the report's overall ones. */
  cohorts: Cohort[];
}

/** Relative change from the baseline cohort (the first) to the current one (the second): -0.58 is "down 58%". */
export type PhaseChange = Partial<Record<"median" | "p90" | "mean", number>>;

export interface WeekPoint {
  /** Monday 00:00 UTC of the week, ISO date. */
  week: string;
  /** Incidents resolved among those started that week, and their time to resolve. */
  count: number;
  median?: number;
  p90?: number;
}

export interface DistributionBucket {
  /** Upper bound of time to resolve in ms (inclusive); null for the last, open-ended bucket. */
  le: number | null;
  count: number;
}

/** What `opskit mttr` computes; json output is this object, stable for other tools. */
export interface MttrReport {
  generatedAt: string;
  /** The whole range the report covers, ISO times. */
  range: { since?: string; until: string };
  /** The grouping key: "service", "alertname", "rule", "severity" or "label:NAME". */
  by?: string;
  compare?: { mode: "automated" | "before" | "window"; baseline: string; current: string };
  /** One cohort, or two when comparing (baseline first). */
  overall: Cohort[];
  /** Per phase, the change from baseline to current (only when comparing). */
  changes?: Record<Phase, PhaseChange>;
  groups: (GroupReport & { changes?: Record<Phase, PhaseChange> })[];
  /** Weekly time to resolve over the whole range, for trends. */
  weekly: WeekPoint[];
  /** Time to resolve of resolved incidents, in buckets. */
  distribution: DistributionBucket[];
}
