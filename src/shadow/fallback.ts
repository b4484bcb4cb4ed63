import type { ShadowStats } from "../journal/index.ts";

/** When a workflow falls back to its legacy script (from its shadow declaration). */
export interface FallbackThresholds {
  maxMismatchPercent: number;
  minComparisons: number;
}

const percent = (n: number) => `${(Math.round(n * 10) / 10).toString()}%`;

/**
 * Why a workflow falls back, or undefined while it holds: over the window's
 * comparisons where the legacy ran (at least minComparisons of them), the
 * mismatch rate or the candidate failure rate exceeds maxMismatch.
 */
export function fallbackReason(stats: ShadowStats | undefined, thresholds: FallbackThresholds): string | undefined {
  if (!stats) return undefined;
  const counted = stats.comparisons - stats.legacyFailures;
  if (counted < thresholds.minComparisons || counted === 0) return undefined;
  const mismatchRate = (stats.mismatched / counted) * 100;
  const failureRate = (stats.candidateFailures / counted) * 100;
  const limit = `maxMismatch ${percent(thresholds.maxMismatchPercent)}`;
  if (mismatchRate > thresholds.maxMismatchPercent) {
    return `mismatch rate ${percent(mismatchRate)} (${stats.mismatched} of ${counted} comparisons) exceeds ${limit}`;
  }
  if (failureRate > thresholds.maxMismatchPercent) {
    return `candidate failure rate ${percent(failureRate)} (${stats.candidateFailures} of ${counted} comparisons) exceeds ${limit}`;
  }
  return undefined;
}

/** Share of comparisons (where the legacy ran) that agreed, 0..1; undefined when there are none. */
export function agreementRate(stats: ShadowStats): number | undefined {
  const counted = stats.comparisons - stats.legacyFailures;
  return counted === 0 ? undefined : stats.agreed / counted;
}
