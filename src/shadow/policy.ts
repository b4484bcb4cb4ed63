import type { ShadowStats } from "../journal/index.ts";

/** "10%" as 10 (clamped to 0..100). */
export function parsePercent(text: string): number {
  return Math.min(100, Math.max(0, Number.parseFloat(text)));
}

/**
 * Whether a run is in the shadowed share. Deterministic by run id (FNV-1a
 * over the id, in 10,000 buckets): the same run id always decides the same
 * way, and since run ids carry 32 random bits the share holds over many runs.
 */
export function inShare(runId: string, percent: number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  let hash = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) {
    hash ^= runId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 10_000 < percent * 100;
}

export interface FallbackPolicy {
  maxMismatchPercent: number;
  minComparisons: number;
}

const percent = (n: number) => `${(Math.round(n * 10) / 10).toString()}%`;

/**
 * Why a workflow falls back, or undefined while it holds: over the window's
 * comparisons where the legacy ran (at least minComparisons of them), the
 * mismatch rate or the candidate failure rate exceeds maxMismatch.
 */
export function fallbackReason(stats: ShadowStats | undefined, policy: FallbackPolicy): string | undefined {
  if (!stats) return undefined;
  const counted = stats.comparisons - stats.legacyFailures;
  if (counted < policy.minComparisons || counted === 0) return undefined;
  const mismatchRate = (stats.mismatched / counted) * 100;
  const failureRate = (stats.candidateFailures / counted) * 100;
  const limit = `maxMismatch ${percent(policy.maxMismatchPercent)}`;
  if (mismatchRate > policy.maxMismatchPercent) {
    return `mismatch rate ${percent(mismatchRate)} (${stats.mismatched} of ${counted} comparisons) exceeds ${limit}`;
  }
  if (failureRate > policy.maxMismatchPercent) {
    return `candidate failure rate ${percent(failureRate)} (${stats.candidateFailures} of ${counted} comparisons) exceeds ${limit}`;
  }
  return undefined;
}

/** Share of comparisons (where the legacy ran) that agreed, 0..1; undefined when there are none. */
export function agreementRate(stats: ShadowStats): number | undefined {
  const counted = stats.comparisons - stats.legacyFailures;
  return counted === 0 ? undefined : stats.agreed / counted;
}
