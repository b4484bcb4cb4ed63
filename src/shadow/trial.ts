import type { ShadowAspect, ShadowStore } from "../journal/index.ts";
import { candidateFailed, compareOutcomes, type Normalizer, type SideOutcome } from "./compare.ts";

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
    const failed = candidateFailed(legacy, candidate);
    const id = options.journal.recordShadowComparison({
      name: options.name,
      at: now(),
      source: "cli",
      ...(candidate.runId !== undefined ? { runId: candidate.runId } : {}),
      legacyExit: legacy.exitCode,
      legacyDurationMs: legacy.durationMs,
      ...(legacy.error !== undefined ? { legacyError: legacy.error } : {}),
      candidateExit: candidate.exitCode,
      candidateDurationMs: candidate.durationMs,
      ...(candidate.error !== undefined ? { candidateError: candidate.error } : {}),
      candidateFailed: failed,
      ...comparison,
    });
    const result: TrialComparison = { run, id, legacy, candidate, ...comparison, candidateFailed: failed };
    done.push(result);
    options.onComparison?.(result);
  }
  return done;
}
