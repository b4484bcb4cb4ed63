// Shadow comparisons: a legacy script and its replacement run on the same
// input, their outputs compared (`opskit shadow`, workflows with `shadow:`).

/** What a comparison looks at: the text printed, the exit code, or the JSON printed, parsed. */
export type ShadowAspect = "stdout" | "exit" | "json";
/** Who compared: `opskit shadow NAME`, or a workflow run with a shadow declaration. */
export type ShadowSource = "cli" | "workflow";

export interface ShadowComparisonRecord {
  id: number;
  name: string;
  /** Epoch ms. */
  at: number;
  source: ShadowSource;
  /** The engine run the candidate ran in (a workflow candidate, or a workflow's shadowed run). */
  runId?: string;
  target?: string;
  legacyExit: number | null;
  legacyDurationMs: number;
  /** Why the legacy command could not run (spawn error, timeout); such a comparison counts for neither side. */
  legacyError?: string;
  candidateExit: number | null;
  candidateDurationMs: number;
  candidateError?: string;
  /** The candidate could not run, or exited non-zero where the legacy exited 0. */
  candidateFailed: boolean;
  equal: boolean;
  /** The aspects that differed, in the order they were compared. */
  differs: ShadowAspect[];
  /** A bounded unified diff of the normalized outputs, legacy first; empty when the texts agree. */
  diff: string;
}

export interface ShadowStats {
  name: string;
  comparisons: number;
  agreed: number;
  /** Comparisons where the legacy ran and the outputs differed. */
  mismatched: number;
  legacyFailures: number;
  /** Comparisons where the legacy ran and the candidate failed. */
  candidateFailures: number;
  firstAt: number;
  lastAt: number;
}

/** A shadowed workflow's standing: whether it fell back to its legacy command, and since when comparisons count. */
export interface ShadowStateRecord {
  name: string;
  fallenBackAt?: number;
  reason?: string;
  resetAt?: number;
  /** Comparisons with a larger id count toward the fallback decision (a reset starts a new window). */
  windowStart: number;
}

export interface ShadowStore {
  /** Records one comparison; returns its id. */
  recordShadowComparison(comparison: Omit<ShadowComparisonRecord, "id">): Promise<number>;
  /** Newest first. */
  shadowComparisons(name: string, options?: { limit?: number; mismatchesOnly?: boolean }): Promise<ShadowComparisonRecord[]>;
  /** Counts per name, computed in SQL; `afterId` and `source` narrow to a fallback window. */
  shadowStats(filter?: { name?: string; source?: ShadowSource; afterId?: number }): Promise<ShadowStats[]>;
  getShadowState(name: string): Promise<ShadowStateRecord | undefined>;
  listShadowStates(): Promise<ShadowStateRecord[]>;
  /** Marks a workflow fallen back unless it already is (the first decision wins); returns whether this call set it. */
  fallBackShadow(name: string, at: number, reason: string): Promise<boolean>;
  /** Clears a fallback and starts a new window after the latest comparison; returns the state before. */
  resetShadow(name: string, at: number): Promise<ShadowStateRecord | undefined>;
}
