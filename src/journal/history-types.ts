// History and analytics: incidents imported from other tools, and MTTR over
// everything the journal holds.

/** One incident from another tool's export, already mapped and validated. */
export interface ImportedIncident {
  /** The import's source name (e.g. "pagerduty"); with externalId it identifies the incident, so a re-import updates it. */
  origin: string;
  externalId: string;
  title: string;
  labels: Record<string, string>;
  /** Epoch ms; started is required, the rest optional. */
  started: number;
  detected?: number;
  acknowledged?: number;
  remediationStarted?: number;
  resolved?: number;
  escalated?: boolean;
}

export interface HistoryStore {
  /**
   * Inserts or updates (by origin and externalId) every row in ONE transaction: all or nothing. The rows
   * may come lazily (read as they are written); an error thrown while they are read rolls it back.
   */
  importIncidents(rows: Iterable<ImportedIncident>): Promise<{ inserted: number; updated: number }>;
}

export type MttrPhase = "detect" | "isolate" | "recover" | "resolve";

export interface MttrQuery {
  /** Incidents that started at or after since and before until (epoch ms). */
  since?: number;
  until?: number;
  /** Group by a column, or by a label (any name; it is bound, never interpolated). */
  groupBy?: { column: "service" | "alertname" | "rule" | "severity" } | { label: string };
  /** Split into two cohorts: 0 = manual / started before `at`, 1 = automated / from `at`. Absent: one cohort, 0. */
  split?: { kind: "automated" } | { kind: "at"; at: number };
  /** Weekly time-to-resolve series and the distribution, over the whole range and all groups. */
  trends?: boolean;
  /**
   * With groupBy, also the phases and counts over all groups together (in
   * `overall`), from the same reading of the incidents: percentiles do not
   * add up from the groups' (GROUPING SETS, in SQL terms).
   */
  overall?: boolean;
}

export interface MttrPhaseRow {
  group: string | null;
  cohort: number;
  phase: MttrPhase;
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  median: number | null;
  p90: number | null;
  p99: number | null;
}

export interface MttrCountRow {
  group: string | null;
  cohort: number;
  incidents: number;
  resolved: number;
  open: number;
  automated: number;
  escalated: number;
  attempts: number;
}

export interface MttrResult {
  phases: MttrPhaseRow[];
  counts: MttrCountRow[];
  weekly: { weekStart: number; count: number; median: number | null; p90: number | null }[];
  /** Time to resolve histogram: upper bounds in ms (the last null = beyond). */
  distribution: { le: number | null; count: number }[];
  /** When the query asked for it: the rows an ungrouped query gives (group null). */
  overall?: { phases: MttrPhaseRow[]; counts: MttrCountRow[] };
}

export interface AnalyticsStore {
  /** Phase statistics over the incidents that started in the range (percentiles interpolated linearly between ranks, as percentile_cont). */
  mttr(query: MttrQuery): Promise<MttrResult>;
}
