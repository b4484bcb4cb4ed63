import type { ShadowAspect, ShadowStore } from "../journal/index.ts";
import { compareOutcomes, comparisonRecord, type Normalizer, type SideOutcome } from "./compare.ts";

export interface TrialOptions {
  name: string;
  legacy(): Promise<SideOutcome>;
  candidate(): Promise<SideOutcome>;
  runs: number;
  aspects: readonly ShadowAspect[];
  normalizers: readonly Normalizer[];
  journal: ShadowStore;
  signal: AbortSignal;
  now?: () => number;
  /** Called as each comparison is recorded, to print it. */
  onComparison?(comparison: TrialComparison): void;
}

export interface TrialComparison {
  /** 1-based run number. */
  run: number;
  /** The journal row's id. */
  id: number;
  legacy: SideOutcome;
  candidate: SideOutcome;
  equal: boolean;
  differs: ShadowAspect[];
  diff: string;
  candidateFailed: boolean;
}

/**
 * `opskit shadow NAME`: runs the legacy command, then the candidate, `runs`
 * times, one after the other (so neither competes with the other for the
 * machine and their durations compare), and records each comparison.
 */
export async function runTrials(options: TrialOptions): Promise<TrialComparison[]> {
  const now = options.now ?? Date.now;
  const done: TrialComparison[] = [];
  for (let run = 1; run <= options.runs && !options.signal.aborted; run++) {
    // An interrupted comparison says nothing about either side: it is not recorded.
    const legacy = await options.legacy();
    if (options.signal.aborted) break;
    const candidate = await options.candidate();
    if (options.signal.aborted) break;
    const comparison = compareOutcomes(legacy, candidate, options.aspects, options.normalizers);
    const record = comparisonRecord(legacy, candidate, comparison, { name: options.name, at: now(), source: "cli", runId: candidate.runId });
    const id = await options.journal.recordShadowComparison(record);
    const result: TrialComparison = { run, id, legacy, candidate, ...comparison, candidateFailed: record.candidateFailed };
    done.push(result);
    options.onComparison?.(result);
  }
  return done;
}
