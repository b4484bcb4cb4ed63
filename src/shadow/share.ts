// Which runs are shadowed: a declared share ("10%") of them, chosen by run id.

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
